/**
 * The admin console's DKIM record and live session view in a real browser (playwright-core and
 * Debian's chromium, headless) on a phone-sized screen, in English and Korean: a DKIM key is
 * created from the Domains page and its TXT record shown with a copy button; an SMTP session run
 * over TCP appears in the session list without reloading, and its transcript shows the C:/S:
 * lines with the AUTH payload masked. The UI is built fresh into a temp dir (never a stale dist).
 *
 * Skipped, saying why, when /usr/bin/chromium is absent (.ci/run installs it).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { silentLogger } from '../../src/core/index.js';
import { Authenticator, hashPassword } from '../../src/mta/auth/index.js';
import { InboundBackend } from '../../src/mta/inbound/index.js';
import { SmtpServer } from '../../src/smtp/index.js';
import { createMemoryStore } from '../../src/store/index.js';
import { createWebServer, SessionTrace, type WebServer } from '../../src/web/index.js';
import { tempDir } from '../support/tmp.js';
import { LineClient, play } from '../support/transcript.js';

const CHROMIUM = '/usr/bin/chromium';
const root = fileURLToPath(new URL('../..', import.meta.url));
const shots = process.env.POSTHORN_SCREENSHOTS === '1' ? join(root, 'docs/screenshots') : tempDir();
const ROOT_PW = 'root-pw-123';
const USER_PW = 'kihyun-secret-pw';

const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} not found (apt-get install chromium); browser test skipped`;

async function login(page: Page, base: string, label: { address: string; password: string; login: string }) {
  await page.goto(base);
  await page.getByLabel(label.address).fill('root@uu.ac.kr');
  await page.getByLabel(label.password).fill(ROOT_PW);
  await page.getByRole('button', { name: label.login }).click();
}

describe('admin console in chromium: DKIM record and live sessions', { skip }, () => {
  let browser: Browser;
  let web: WebServer;
  let smtp: SmtpServer;
  let base: string;
  let smtpPort: number;
  const uiDir = tempDir();
  const dataDir = tempDir();

  before(async () => {
    const { build } = await import('vite');
    await build({
      configFile: join(root, 'src/web/ui/vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: uiDir, emptyOutDir: true, reportCompressedSize: false },
    });
    mkdirSync(shots, { recursive: true });
    const store = createMemoryStore();
    await store.domains.add('uu.ac.kr');
    await store.users.add({
      address: 'root@uu.ac.kr',
      passwordHash: await hashPassword(ROOT_PW),
      isAdmin: true,
    });
    await store.users.add({ address: 'kihyun@uu.ac.kr', passwordHash: await hashPassword(USER_PW) });
    const authenticator = new Authenticator(store, { defaultDomain: 'uu.ac.kr' });
    const backend = new InboundBackend({
      store,
      hostname: 'mx.uu.ac.kr',
      logger: silentLogger,
      authenticator,
    });
    const trace = new SessionTrace();
    smtp = new SmtpServer({ hostname: 'mx.uu.ac.kr', backend, logger: silentLogger, onTrace: trace.record });
    smtpPort = (await smtp.listen('127.0.0.1', 0)).port;
    web = await createWebServer({
      store,
      authenticator,
      backend,
      hostname: 'mx.uu.ac.kr',
      logger: silentLogger,
      uiDir,
      dataDir,
      sessionTrace: trace,
    });
    base = `http://127.0.0.1:${(await web.listen('127.0.0.1', 0)).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
  });
  after(async () => {
    await browser?.close();
    await web?.close();
    await smtp?.close(200);
  });

  it('creates a DKIM key and follows an SMTP session live, on a phone screen', async () => {
    const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 390, height: 844 } });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const page = await ctx.newPage();
    page.setDefaultTimeout(10_000);
    await login(page, base, { address: 'Mail address', password: 'Password', login: 'Log in' });
    await page.getByRole('button', { name: 'Administration' }).click();

    const domains = page.getByRole('region', { name: 'Domains' });
    page.once('dialog', (d) => void d.accept());
    await domains.getByRole('button', { name: 'Create DKIM key uu.ac.kr' }).click();
    await domains.getByText('posthorn._domainkey.uu.ac.kr').waitFor();
    await domains.getByText(/^v=DKIM1; k=rsa; p=/).waitFor();
    await domains.getByRole('button', { name: 'Copy posthorn._domainkey.uu.ac.kr' }).click();
    await domains.getByRole('status').filter({ hasText: 'Copied.' }).waitFor();
    const copied = (await page.evaluate('navigator.clipboard.readText()')) as string;
    assert.match(copied, /^posthorn\._domainkey\.uu\.ac\.kr\. IN TXT "v=DKIM1; k=rsa; p=/);

    const sessions = page.getByRole('region', { name: 'Recent SMTP and POP3 sessions' });
    await sessions.getByText('No sessions yet.').waitFor();
    const plain = Buffer.from(`\0kihyun@uu.ac.kr\0${USER_PW}`).toString('base64');
    const c = await LineClient.connect(smtpPort);
    await play(c, `S: 220 *\nC: EHLO phone.example\nS* 250 *\nC: AUTH PLAIN ${plain}\nS: 235 *`);
    // Appears without reloading, while the session is still open.
    const item = sessions.getByRole('button', { name: /SMTP \(smtp\).*127\.0\.0\.1.*open/ });
    await item.click();
    const log = sessions.getByRole('log', { name: 'Commands and replies' });
    await log.getByText('AUTH PLAIN ********').waitFor();
    await play(c, 'C: QUIT\nS: 221 *');
    c.close();
    await log.getByText('221 2.0.0 mx.uu.ac.kr Bye').waitFor();
    // Lines that raced between the fetch and the stream are shown once.
    assert.equal(await log.getByText('235 2.7.0 Authentication successful').count(), 1);
    assert.equal(await log.getByText('220 mx.uu.ac.kr ESMTP Posthorn').count(), 1);
    await sessions.getByRole('button', { name: /SMTP \(smtp\).*kihyun@uu\.ac\.kr.*closed/ }).waitFor();
    const text = (await page.textContent('body')) ?? '';
    assert.ok(!text.includes(USER_PW) && !text.includes(plain), 'no secret on the page');
    const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
    assert.ok(width <= 390, `no horizontal scrolling (${width}px)`);
    await page.screenshot({ path: join(shots, 'admin-sessions-phone.png'), fullPage: true });
    await ctx.close();
  });

  it('speaks Korean', async () => {
    const ctx = await browser.newContext({ locale: 'ko-KR', viewport: { width: 390, height: 844 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(10_000);
    await login(page, base, { address: '메일 주소', password: '비밀번호', login: '로그인' });
    await page.getByRole('button', { name: '관리' }).click();
    const sessions = page.getByRole('region', { name: '최근 SMTP·POP3 세션' });
    await sessions
      .getByRole('button', { name: /SMTP \(smtp\)/ })
      .first()
      .click();
    await sessions.getByRole('log', { name: '명령과 응답' }).getByText('EHLO phone.example').waitFor();
    await page
      .getByRole('region', { name: '도메인' })
      .getByRole('button', { name: 'DKIM 키 바꾸기 uu.ac.kr' })
      .waitFor();
    await ctx.close();
  });
});

/**
 * The user agent against other servers (private instances from bench/peers, root only; each test
 * is skipped when its peer is not installed or cannot start): fetch from Dovecot's POP3 (--keep,
 * the UIDL memory with Dovecot's UIDs, the deleting fetch, reading what came), and send through
 * Postfix's smtpd, which delivers into its own Maildir.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type DovecotServer, startDovecot } from '../../bench/peers/dovecot.js';
import { startPostfix } from '../../bench/peers/postfix.js';
import { cleanupAll, PeerUnavailable, sleep } from '../../bench/peers/proc.js';
import { parseMessage } from '../../src/mime/index.js';
import { AccountBook, configDir, parseEndpoint } from '../../src/ua/index.js';
import { tempDir } from '../support/tmp.js';
import { uaOk, userEnv } from './support.js';

const USER = 'kim@peer.test';
const PW = 'dovecot-pw';
let dovecot: DovecotServer | undefined;
let unavailable: string | undefined;
const env = userEnv();

before(async () => {
  try {
    dovecot = await startDovecot([{ user: USER, password: PW }]);
  } catch (err) {
    if (!(err instanceof PeerUnavailable)) throw err;
    unavailable = err.message;
    return;
  }
  const dir = dovecot.maildir(USER);
  for (let i = 1; i <= 3; i++) {
    const subject = `=?UTF-8?B?${Buffer.from(`도브코트 메시지 ${i}`).toString('base64')}?=`;
    // A Maildir on Unix keeps LF line ends; Dovecot sends CRLF.
    writeFileSync(
      join(dir, 'cur', `${1_700_000_000 + i}.M${i}P1.peer:2,`),
      `From: peer@peer.test\nTo: ${USER}\nSubject: ${subject}\nMessage-ID: <m${i}@peer.test>\n\nbody ${i}\n`,
    );
  }
  dovecot.chownMail();
  await new AccountBook(configDir(env)).add(
    {
      name: 'peer',
      address: USER,
      smtp: parseEndpoint('127.0.0.1:9', 'smtp', 'none'),
      pop3: parseEndpoint(`127.0.0.1:${dovecot.port}`, 'pop3', 'none'),
      tls: 'none',
      tlsVerify: true,
      user: USER,
    },
    PW,
  );
});
after(async () => {
  await dovecot?.stop();
  await cleanupAll();
});

test('fetch from Dovecot: --keep, UIDL memory, then delete; read the Korean subject', async (t) => {
  if (unavailable) return t.skip(unavailable);
  assert.match(
    await uaOk(['fetch', '--keep'], env),
    /^fetched 3 messages .*; 0 deleted on the server; 3 left there$/m,
  );
  assert.match(await uaOk(['fetch', '--keep'], env), /^fetched 0 messages .*; 3 already fetched;/m);
  assert.match(
    await uaOk(['fetch'], env),
    /^fetched 0 messages .*; 3 already fetched; 3 deleted on the server; 0 left there$/m,
  );
  const left = [
    ...readdirSync(join(dovecot!.maildir(USER), 'cur')),
    ...readdirSync(join(dovecot!.maildir(USER), 'new')),
  ];
  assert.deepEqual(left, [], 'Dovecot expunged them at QUIT');
  const read = await uaOk(['read', '2'], env);
  assert.match(read, /^Subject: 도브코트 메시지 2$/m);
  assert.ok(read.endsWith('\nbody 2\n'));
});

test('send through Postfix: accepted, delivered, the attachment intact', async (t) => {
  let postfix: Awaited<ReturnType<typeof startPostfix>>;
  try {
    postfix = await startPostfix();
  } catch (err) {
    if (err instanceof PeerUnavailable) return t.skip(err.message);
    throw err;
  }
  // This instance's directory (other Postfix instances may run at the same time): its master.cf
  // names its port. Not exposed by the peer module.
  const dir = readdirSync(tmpdir())
    .filter((d) => d.startsWith('posthorn-bench-postfix-'))
    .map((d) => join(tmpdir(), d))
    .find((d) => {
      try {
        return readFileSync(join(d, 'etc', 'master.cf'), 'utf8').startsWith(`127.0.0.1:${postfix.port} `);
      } catch {
        return false;
      }
    });
  t.after(async () => {
    // `postfix stop` first (SIGTERM to start-fg alone orphans the master, which then holds this
    // file's pipes open); not postfix.stop(), whose 20 s safety timer would keep the file alive.
    if (dir) spawnSync('postfix', ['-c', join(dir, 'etc'), 'stop'], { stdio: 'ignore' });
    else await postfix.stop();
    await cleanupAll();
  });
  assert.ok(dir, 'the Postfix instance directory');
  const penv = userEnv();
  // bench/peers' Postfix relays for its loopback network without SASL, like a LAN smarthost.
  await new AccountBook(configDir(penv)).add(
    {
      name: 'pf',
      address: 'sender@bench.test',
      smtp: parseEndpoint(`127.0.0.1:${postfix.port}`, 'smtp', 'none'),
      pop3: parseEndpoint('127.0.0.1:9', 'pop3', 'none'),
      tls: 'none',
      tlsVerify: true,
      user: 'sender@bench.test',
      smtpAuth: false,
    },
    'unused',
  );
  const file = join(tempDir('posthorn-ua-pf-'), '사진.bin');
  const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));
  writeFileSync(file, bytes);
  const out = await uaOk(
    ['send', '--to', 'u@bench.test', '--subject', '포스트픽스 경유', '-m', '본문', '--attach', file],
    penv,
  );
  assert.match(out, /^sent to u@bench\.test \(250 2\.0\.0 Ok: .*queued as \w+\)/);
  for (let i = 0; i < 200 && postfix.delivered() < 1; i++) await sleep(50);
  assert.equal(postfix.delivered(), 1);
  const newDir = join(dir, 'mail', 'bench.test', 'u', 'new');
  const files = readdirSync(newDir).map((f) => join(newDir, f));
  const msgs = await Promise.all(files.map((f) => parseMessage(readFileSync(f))));
  const msg = msgs.find((m) => m.subject === '포스트픽스 경유');
  assert.ok(msg, 'delivered by Postfix');
  assert.equal(msg.text, '본문');
  assert.equal(msg.attachments[0]?.filename, '사진.bin');
  assert.ok(msg.attachments[0]?.content?.equals(bytes));
});

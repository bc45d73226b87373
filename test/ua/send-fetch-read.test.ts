/**
 * End to end against a running Posthorn: `account add` → `send` a Korean message with a binary
 * attachment whose file name is Korean → `fetch` over POP3 → `inbox` → `read` gives back the same
 * text and the same attachment bytes. Also: refused recipients are named with the server's reply,
 * the Sent copy, --dry-run, and reading on the server itself with --local.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { storeUrlFor } from '../../src/config/index.js';
import { parseMessage } from '../../src/mime/index.js';
import { openStore } from '../../src/store/index.js';
import { accountStorage, configDir, dataDir } from '../../src/ua/index.js';
import { tempDir } from '../support/tmp.js';
import {
  addAccount,
  addAccountDirect,
  DOMAIN,
  PASSWORD,
  type Server,
  startServer,
  ua,
  uaOk,
  userEnv,
} from './support.js';

const alice = `alice@${DOMAIN}`;
const bob = `bob@${DOMAIN}`;
const carol = `carol@${DOMAIN}`;
const SUBJECT = '회의 일정 안내 — 다음 주 화요일 오후 3시';
const BODY = '안녕하세요, 밥 님.\n\n다음 주 회의 자료를 첨부합니다.\n검토 부탁드립니다.\n— 앨리스';
const FILE_NAME = '분기 보고서 (최종).bin';

let srv: Server;
const aEnv = userEnv();
const bEnv = userEnv();
const work = tempDir('posthorn-ua-files-');
const attachment = Buffer.concat([
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  randomBytes(40_000),
]);
const attachmentPath = join(work, FILE_NAME);

before(async () => {
  srv = await startServer([alice, bob, carol]);
  writeFileSync(attachmentPath, attachment);
});
after(() => srv?.close());

test('account add stores the password 0600 under XDG_CONFIG_HOME and never prints it', async () => {
  const out = await addAccount(aEnv, 'home', alice, srv);
  assert.match(out, /account home added/);
  assert.ok(!out.includes(PASSWORD));
  const pwFile = join(configDir(aEnv), 'passwords', 'home');
  assert.equal(statSync(pwFile).mode & 0o777, 0o600);
  assert.equal(readFileSync(pwFile, 'utf8'), PASSWORD);
  assert.ok(!readFileSync(join(configDir(aEnv), 'accounts.toml'), 'utf8').includes(PASSWORD));
  const list = await uaOk(['account', 'list'], aEnv);
  assert.match(list, /^\* home {2}alice@example\.test .*password file$/m);
  assert.ok(!list.includes(PASSWORD));
  await addAccountDirect(bEnv, 'work', bob, srv);
});

test('send → fetch → inbox → read: the same Korean text and attachment bytes', async () => {
  const sent = await uaOk(
    [
      'send',
      '--to',
      bob,
      '--subject',
      SUBJECT,
      '-m',
      BODY,
      '--attach',
      attachmentPath,
      '--notify',
      'success,failure',
    ],
    aEnv,
  );
  assert.match(sent, /^sent to bob@example\.test \(250 /);
  const sentBox = await accountStorage(dataDir(aEnv), 'home').maildir.list('Sent');
  assert.equal(sentBox.length, 1, 'a copy in Sent');

  const fetched = await ua(['fetch', '--account', 'work'], bEnv);
  assert.equal(fetched.code, 0, fetched.stderr);
  assert.match(
    fetched.stdout,
    /^fetched 1 message \(.*\) from 127\.0\.0\.1:\d+; 0 already fetched; 1 deleted on the server; 0 left there$/m,
  );
  assert.equal(fetched.stderr, '', 'no progress bar when stderr is not a terminal');
  // The Maildir is under XDG_DATA_HOME/posthorn/ACCOUNT.
  assert.equal(readdirSync(join(bEnv.XDG_DATA_HOME!, 'posthorn', 'work', 'Maildir', 'new')).length, 1);

  const inbox = await uaOk(['inbox'], bEnv);
  const row = inbox.split('\n')[1]!;
  assert.match(row, /^ +1 N {3}@ alice@example\.test +회의 일정 안내/);

  const saveDir = join(work, 'saved');
  const read = await uaOk(['read', '1', '--save-attachments', saveDir], bEnv);
  assert.match(read, /^From: alice@example\.test$/m);
  assert.match(read, new RegExp(`^Subject: ${SUBJECT}$`, 'm'));
  assert.match(
    read,
    new RegExp(`^  1\\. ${FILE_NAME.replace(/[()]/g, '\\$&')} \\(application/octet-stream, 39K\\)$`, 'm'),
  );
  assert.ok(read.includes(`\n\n${BODY}\n`), read);
  assert.deepEqual(readdirSync(saveDir), [FILE_NAME]);
  assert.ok(readFileSync(join(saveDir, FILE_NAME)).equals(attachment), 'attachment bytes unchanged');

  const [entry] = await accountStorage(dataDir(bEnv), 'work').maildir.list('INBOX');
  assert.deepEqual(entry?.flags, ['\\Seen'], 'read marks it read');
  const raw = await uaOk(['read', '1', '--raw'], bEnv);
  assert.match(raw, /^Return-Path: <alice@example\.test>/m);
  assert.ok(/filename\*0\*=utf-8''%EB%B6%84/i.test(raw), 'RFC 2231 file name');
  assert.ok(!/[^\x00-\x7f]/.test(raw), 'the message on the wire is 7-bit (RFC 2047/2231/base64)');
});

test('a refused recipient is named with the server reply; the others still get the message', async () => {
  const r = await ua(
    ['send', '--to', `nobody@${DOMAIN}`, '--to', bob, '--subject', 'partial', '-m', 'x'],
    aEnv,
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /nobody@example\.test: refused: 5\d\d 5\.1\.\d /);
  assert.match(r.stdout, /sent to bob@example\.test/);
  const none = await ua(['send', '--to', `ghost@${DOMAIN}`, '--subject', 'none', '-m', 'x'], aEnv);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /ghost@example\.test: refused: 5\d\d/);
  assert.match(none.stderr, /did not take the message: no recipient was accepted/);
});

test('--dry-run prints the message (with the receipt request) and sends nothing', async () => {
  const before = (await accountStorage(dataDir(aEnv), 'home').maildir.list('Sent')).length;
  const html = join(work, 'body.html');
  writeFileSync(html, '<p>본문 <b>HTML</b></p>');
  const out = await uaOk(
    [
      'send',
      '--to',
      bob,
      '--bcc',
      carol,
      '--subject',
      '초안',
      '-m',
      '본문',
      '--html-file',
      html,
      '--receipt',
      '--dry-run',
    ],
    aEnv,
  );
  const msg = await parseMessage(Buffer.from(out));
  assert.equal(msg.subject, '초안');
  assert.equal(msg.text, '본문');
  assert.equal(msg.html, '<p>본문 <b>HTML</b></p>');
  assert.match(msg.headers.get('content-type')!, /^multipart\/alternative/);
  assert.equal(msg.headers.get('disposition-notification-to'), alice);
  assert.equal(msg.headers.get('bcc'), undefined, 'Bcc never becomes a header');
  assert.equal((await accountStorage(dataDir(aEnv), 'home').maildir.list('Sent')).length, before);
});

test('inbox and read --local read the mailbox from the server store, without POP3', async () => {
  await uaOk(['send', '--to', carol, '--subject', '서버에서 읽기', '-m', '로컬 본문'], aEnv);
  const list = await uaOk(['inbox', '--local', carol, '--data', srv.data], {});
  assert.match(list.split('\n')[1]!, /^ +1 N {5}alice@example\.test +서버에서 읽기/);
  const read = await uaOk(['read', '1', '--local', carol, '--data', srv.data], {});
  assert.match(read, /^Subject: 서버에서 읽기$/m);
  assert.ok(read.includes('\n\n로컬 본문\n'));
  // Marked read in the store the server serves.
  const store = await openStore(storeUrlFor({ data: srv.data }));
  try {
    const user = await store.users.get(carol);
    const box = await store.mailboxes.get(user!.id, 'INBOX');
    assert.deepEqual(
      (await store.messages.list(box!.id)).map((m) => m.flags),
      [['\\Seen']],
    );
  } finally {
    await store.close();
  }
  const bad = await ua(['inbox', '--local', `nobody@${DOMAIN}`, '--data', srv.data], {});
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no user nobody@example\.test/);
});

test('a password from an environment variable; a refused login names the server reply, never the password', async () => {
  const env = userEnv();
  await uaOk(
    [
      'account',
      'add',
      'envpw',
      '--address',
      bob,
      '--smtp',
      `127.0.0.1:${srv.submission}`,
      '--pop3',
      `127.0.0.1:${srv.pop3}`,
      '--tls',
      'none',
      '--password-env',
      'UA_TEST_PASSWORD',
    ],
    env,
  );
  const bad = await ua(['fetch'], { ...env, UA_TEST_PASSWORD: 'wrong-secret-xyz' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^posthorn: POP3 PASS: -ERR /);
  assert.ok(!bad.stderr.includes('wrong-secret-xyz') && !bad.stdout.includes('wrong-secret-xyz'));
  const good = await uaOk(['fetch', '--keep'], { ...env, UA_TEST_PASSWORD: PASSWORD });
  assert.match(good, /^fetched \d+ messages? /m);
});

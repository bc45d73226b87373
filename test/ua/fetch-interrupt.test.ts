/**
 * Interrupted downloads never lose or duplicate a message (fetch.ts, module comment): the fetch
 * process is killed with SIGKILL in the worst window (message renamed into new/, UID not yet
 * recorded) by the test hook, and killed from outside at an arbitrary moment; each time the next
 * fetch ends with every message exactly once. Also --keep and the UIDL memory.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseMessage } from '../../src/mime/index.js';
import { AccountBook, accountStorage, configDir, dataDir, fetchMail } from '../../src/ua/index.js';
import {
  addAccountDirect,
  DOMAIN,
  deliverMany,
  entry,
  PASSWORD,
  root,
  type Server,
  startServer,
  ua,
  uaOk,
  userEnv,
} from './support.js';

let srv: Server;
const users = { dave: `dave@${DOMAIN}`, erin: `erin@${DOMAIN}`, finn: `finn@${DOMAIN}` };

function message(seq: number, padding = 0): string {
  return (
    `From: sender@other.test\r\nTo: x@${DOMAIN}\r\nSubject: 메시지 ${seq}\r\nX-Seq: ${seq}\r\n` +
    `Message-ID: <seq-${seq}@other.test>\r\n\r\nbody ${seq}\r\n${'.padding line of text\r\n'.repeat(padding)}`
  );
}

/** X-Seq of every message in the account's INBOX, sorted. */
async function seqs(env: NodeJS.ProcessEnv, account: string): Promise<number[]> {
  const { maildir } = accountStorage(dataDir(env), account);
  const out: number[] = [];
  for (const e of await maildir.list('INBOX')) {
    const m = await parseMessage(maildir.read('INBOX', e.id), { collect: 'text' });
    out.push(Number(m.headers.get('x-seq')));
  }
  return out.sort((a, b) => a - b);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

before(async () => {
  srv = await startServer(Object.values(users));
});
after(() => srv?.close());

test('killed between storing a message and recording its UID: the next fetch neither loses nor repeats', async () => {
  const env = userEnv();
  await addAccountDirect(env, 'd', users.dave, srv);
  await deliverMany(
    srv,
    users.dave,
    range(20).map((i) => message(i)),
  );
  const killed = await ua(['fetch'], { ...env, POSTHORN_UA_TEST_CRASH_AFTER: '7' });
  assert.equal(killed.code, null, 'killed by SIGKILL');
  const base = join(env.XDG_DATA_HOME!, 'posthorn', 'd');
  assert.equal(readdirSync(join(base, 'Maildir', 'new')).length, 7);
  assert.equal(
    readFileSync(join(base, 'uidl'), 'utf8').trim().split('\n').length,
    6,
    'the 7th UID not recorded',
  );

  const again = await uaOk(['fetch'], env);
  assert.match(again, /^fetched 13 messages .*; 7 already fetched; 20 deleted on the server; 0 left there$/m);
  assert.deepEqual(await seqs(env, 'd'), range(20));
  assert.match(await uaOk(['fetch'], env), /^fetched 0 messages .*; 0 already fetched; 0 deleted/m);
});

test('killed from outside at an arbitrary moment: the next fetch neither loses nor repeats', async () => {
  const env = userEnv();
  await addAccountDirect(env, 'e', users.erin, srv);
  await deliverMany(
    srv,
    users.erin,
    range(40).map((i) => message(i, 3000)),
  );
  const newDir = join(env.XDG_DATA_HOME!, 'posthorn', 'e', 'Maildir', 'new');
  const child = spawn(process.execPath, ['--import', 'tsx', entry, 'fetch'], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  // Kill as soon as a few messages are in, mid-download.
  for (;;) {
    let n = 0;
    try {
      n = readdirSync(newDir).length;
    } catch {}
    if (n >= 3 || child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  await exited;
  const partial = readdirSync(newDir).length;
  assert.ok(partial < 40, `killed mid-way (had ${partial})`);
  await uaOk(['fetch'], env);
  assert.deepEqual(await seqs(env, 'e'), range(40));
  assert.deepEqual(
    readdirSync(join(newDir, '..', 'tmp')),
    [],
    'a half-written file of the killed run is removed',
  );
});

test('--keep leaves messages on the server and UIDL remembers them; a later fetch deletes them', async () => {
  const env = userEnv();
  await addAccountDirect(env, 'f', users.finn, srv);
  await deliverMany(
    srv,
    users.finn,
    range(3).map((i) => message(i)),
  );
  const book = new AccountBook(configDir(env));
  const account = await book.get('f');
  const store = () => accountStorage(dataDir(env), 'f');
  const first = await fetchMail(account, PASSWORD, store(), { keep: true });
  assert.deepEqual(first, { total: 3, fetched: 3, octets: first.octets, deleted: 0, skipped: 0 });
  const second = await fetchMail(account, PASSWORD, store(), { keep: true });
  assert.deepEqual(second, { total: 3, fetched: 0, octets: 0, deleted: 0, skipped: 3 });
  await deliverMany(srv, users.finn, [message(4)]);
  const third = await fetchMail(account, PASSWORD, store(), {});
  assert.deepEqual(third, { total: 4, fetched: 1, octets: third.octets, deleted: 4, skipped: 3 });
  assert.deepEqual(await seqs(env, 'f'), range(4));
  // --all downloads again what was fetched before (here nothing is left on the server).
  const fourth = await fetchMail(account, PASSWORD, store(), { all: true });
  assert.equal(fourth.total, 0);
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openSqliteStore, openStore, StoreError } from '../../src/store/index.js';
import { SCHEMA_VERSION } from '../../src/store/sqlite/index.js';
import { tempDir } from '../support/tmp.js';
import { runStoreContract } from './contract.js';
import { runFeaturesContract } from './features-contract.js';
import { runForwardContract, runQueueContract } from './queue-contract.js';
import { blobCount, chunkCount, countRows, dropBodies } from './sqlite-inspect.js';

let n = 0;
const root = tempDir('posthorn-sqlite-');
const freshPath = () => join(root, `s${++n}`, 'mail.db');

runStoreContract('sqlite', async () => {
  const path = freshPath();
  // A small chunk size makes every test cross chunk boundaries.
  const store = await openSqliteStore(path, { chunkSize: 64 * 1024 });
  return {
    store,
    cleanup: async () => {},
    inspect: {
      blobCount: async () => blobCount(path),
      chunkCount: async () => chunkCount(path),
      dropBodies: async () => dropBodies(path),
    },
  };
});

runQueueContract('sqlite', async () => {
  const path = freshPath();
  const store = await openSqliteStore(path, { chunkSize: 64 * 1024 });
  return { store, cleanup: async () => {}, inspect: { blobCount: async () => blobCount(path) } };
});
runForwardContract('sqlite', async () => {
  const path = freshPath();
  const store = await openSqliteStore(path, { chunkSize: 64 * 1024 });
  return { store, cleanup: async () => {}, inspect: { blobCount: async () => blobCount(path) } };
});
runFeaturesContract('sqlite', async () => {
  const path = freshPath();
  const store = await openSqliteStore(path, { chunkSize: 64 * 1024 });
  return { store, cleanup: async () => {}, inspect: { blobCount: async () => blobCount(path) } };
});

async function seed(path: string) {
  const store = await openSqliteStore(path);
  await store.domains.add('uu.ac.kr');
  const user = await store.users.add({ address: 'kihyun@uu.ac.kr', passwordHash: 'scrypt$x' });
  await store.close();
  return user;
}

async function readAll(store: Awaited<ReturnType<typeof openSqliteStore>>, id: string) {
  const parts: Buffer[] = [];
  for await (const c of store.messages.read(id)) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** Runs the crash fixture until it prints a line starting with `until`, then SIGKILLs it. */
function runChildUntil(path: string, mode: string, until: string): Promise<string> {
  const fixture = fileURLToPath(new URL('./fixtures/sqlite-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, path, mode], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (b) => (err += b));
  return new Promise((resolve, reject) => {
    let line = '';
    child.stdout.on('data', (b) => {
      out += b;
      const nl = out.indexOf('\n');
      if (nl >= 0 && !line) {
        line = out.slice(0, nl);
        if (line.startsWith(until)) child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && line) resolve(line);
      else reject(new Error(`child ended with ${code ?? signal} before '${until}': ${out} ${err}`));
    });
  });
}

test('a committed delivery survives SIGKILL of the process right after commit', async () => {
  const path = freshPath();
  const user = await seed(path);
  const line = await runChildUntil(path, 'commit', 'committed');
  const [, sha, id] = line.split(' ');
  const store = await openSqliteStore(path);
  try {
    const m = await store.messages.get(id!);
    assert.ok(m, 'the committed message is gone');
    assert.equal(m.sha256, sha);
    assert.equal(m.size, 16 * 64 * 1024 + 123);
    const bytes = await readAll(store, id!);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), sha);
    const box = await store.mailboxes.get(user.id, 'INBOX');
    assert.deepEqual(
      (await store.messages.list(box!.id)).map((x) => x.uid),
      [1],
    );
  } finally {
    await store.close();
  }
});

test('a delivery killed before commit leaves nothing, and its bytes are reclaimed on open', async () => {
  const path = freshPath();
  const user = await seed(path);
  await runChildUntil(path, 'partial', 'writing');
  assert.ok(chunkCount(path) > 0, 'the child wrote chunk rows before it was killed');
  assert.equal(countRows(path, 'SELECT count(*) FROM blobs WHERE state = 0'), 1);
  const store = await openSqliteStore(path);
  try {
    assert.equal(chunkCount(path), 0, 'orphan chunks reclaimed');
    assert.equal(blobCount(path), 0);
    const box = await store.mailboxes.ensure(user.id, 'INBOX');
    assert.deepEqual(await store.messages.list(box.id), []);
    assert.equal(box.uidNext, 1);
  } finally {
    await store.close();
  }
});

test('pending bytes of a dead predecessor with our pid are reclaimed; a live process keeps its own', async () => {
  const path = freshPath();
  await seed(path);
  const db = new Database(path);
  const pending = db.prepare(
    'INSERT INTO blobs (state, owner_pid, owner_token, created_at) VALUES (0, ?, ?, 0)',
  );
  const chunk = db.prepare('INSERT INTO blob_chunks (blob_id, seq, data) VALUES (?, 0, ?)');
  // Same pid as this process but another token: a crashed earlier process (pid reuse in containers).
  chunk.run(pending.run(process.pid, 12345).lastInsertRowid, Buffer.from('dead'));
  // The test runner that started us is alive: its pending bytes must survive our open.
  chunk.run(pending.run(process.ppid, 777).lastInsertRowid, Buffer.from('live'));
  db.close();
  const store = await openSqliteStore(path);
  await store.close();
  const side = new Database(path, { readonly: true });
  try {
    assert.deepEqual(side.prepare('SELECT data FROM blob_chunks').pluck().all(), [Buffer.from('live')]);
  } finally {
    side.close();
  }
});

test('a store still in use by a live process keeps its pending bytes when another opens the file', async () => {
  const path = freshPath();
  const user = await seed(path);
  const a = await openSqliteStore(path, { chunkSize: 16 * 1024 });
  const d = await a.openDelivery({
    targets: [{ userId: user.id }],
    envelope: { mailFrom: '', rcptTo: [user.address] },
  });
  for (let i = 0; i < 8; i++) await d.write(Buffer.alloc(16 * 1024, i));
  const b = await openSqliteStore(path); // same process id: its pending blobs are not orphans
  await b.close();
  await d.write(Buffer.from('end'));
  const r = await d.commit();
  assert.equal(r.size, 8 * 16 * 1024 + 3);
  assert.equal((await readAll(a, r.messages[0]!.id)).length, r.size);
  await a.close();
});

test('another process (an admin command) writes the same file while this one delivers', async () => {
  const path = freshPath();
  const user = await seed(path);
  const store = await openSqliteStore(path);
  try {
    const fixture = fileURLToPath(new URL('./fixtures/sqlite-child.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, path, 'admin'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let delivered = 0;
    let childDone = false;
    void exited.then(() => (childDone = true));
    while (!childDone || delivered < 50) {
      const d = await store.openDelivery({
        targets: [{ userId: user.id }],
        envelope: { mailFrom: '', rcptTo: [] },
      });
      await d.write(Buffer.from(`message ${delivered}`));
      await d.commit();
      delivered++;
    }
    assert.equal(await exited, 0);
    assert.equal(out, 'done\n');
    assert.equal((await store.users.list('uu.ac.kr')).length, 51);
    const box = await store.mailboxes.get(user.id, 'INBOX');
    assert.equal((await store.messages.list(box!.id)).length, delivered);
  } finally {
    await store.close();
  }
});

test('reopening after close keeps accounts, messages, bytes and uid counters', async () => {
  const path = freshPath();
  const s1 = await openSqliteStore(path);
  await s1.domains.add('uu.ac.kr');
  const u = await s1.users.add({ address: 'Kihyun@uu.ac.kr', passwordHash: 'scrypt$1' });
  await s1.aliases.add('pm@uu.ac.kr', ['kihyun@uu.ac.kr']);
  const d = await s1.openDelivery({
    targets: [{ userId: u.id, flags: ['\\Seen'] }],
    envelope: { mailFrom: '', rcptTo: [] },
  });
  await d.write(Buffer.from('Subject: kept\r\n\r\nstill here\r\n'));
  const r = await d.commit();
  await s1.close();
  const s2 = await openStore(`sqlite:${path}`);
  try {
    assert.equal((await s2.users.get('kihyun@UU.AC.KR'))?.address, 'Kihyun@uu.ac.kr');
    assert.deepEqual((await s2.aliases.get('pm@uu.ac.kr'))?.targets, ['kihyun@uu.ac.kr']);
    assert.deepEqual(await s2.messages.get(r.messages[0]!.id), r.messages[0]);
    assert.equal(
      (await readAll(s2 as never, r.messages[0]!.id)).toString(),
      'Subject: kept\r\n\r\nstill here\r\n',
    );
    const d2 = await s2.openDelivery({ targets: [{ userId: u.id }], envelope: { mailFrom: '', rcptTo: [] } });
    await d2.write(Buffer.from('second'));
    assert.equal((await d2.commit()).messages[0]!.uid, 2);
  } finally {
    await s2.close();
  }
});

test('an empty database file is migrated to the current schema, in WAL mode with foreign keys', async () => {
  const path = freshPath();
  const s0 = await openSqliteStore(path);
  await s0.close();
  const empty = join(root, 'empty.db');
  writeFileSync(empty, '');
  for (const p of [path, empty]) {
    const s = await openSqliteStore(p);
    await s.close();
    const db = new Database(p, { readonly: true });
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .pluck()
        .all();
      assert.deepEqual(tables, [
        'aliases',
        'blob_chunks',
        'blobs',
        'counters',
        'domains',
        'mailboxes',
        'messages',
        'queue',
        'queue_outcomes',
        'queue_recipients',
        'sent_links',
        'users',
        'vacation',
        'vacation_replies',
      ]);
    } finally {
      db.close();
    }
  }
});

test('a database with a newer schema is refused and left untouched', async () => {
  const path = join(root, 'newer.db');
  const db = new Database(path);
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.exec('CREATE TABLE future (x)');
  db.close();
  await assert.rejects(openSqliteStore(path), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.equal(err.code, 'invalid');
    assert.match(err.message, /newer/);
    return true;
  });
  const again = new Database(path, { readonly: true });
  assert.equal(again.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
  assert.equal(again.pragma('journal_mode', { simple: true }), 'delete', 'journal mode changed');
  assert.equal(again.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'users'").pluck().get(), 0);
  again.close();
});

test('a file that is not a SQLite database is refused with a StoreError and left as it was', async () => {
  const path = join(root, 'not-a-db.db');
  const junk = 'this is a text file, not a database\n'.repeat(200);
  writeFileSync(path, junk);
  await assert.rejects(
    openSqliteStore(path),
    (err: unknown) => err instanceof StoreError && err.code === 'unavailable',
  );
  assert.equal(readFileSync(path, 'utf8'), junk);
});

test('openStore: sqlite: creates parent directories, memory: works, unknown schemes are refused clearly', async () => {
  const path = join(root, 'deep', 'er', 'store.db');
  const s = await openStore(`sqlite:${path}`);
  assert.equal(s.kind, 'sqlite');
  await s.close();
  const m = await openStore('memory:');
  assert.equal(m.kind, 'memory');
  await m.close();
  await assert.rejects(
    openStore('mysql://x'),
    (e: unknown) => e instanceof StoreError && e.code === 'invalid',
  );
});

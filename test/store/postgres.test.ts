/**
 * The PostgreSQL store: the Store, queue and forward contract suites (each store in its own
 * schema of a throw-away database), plus what only a shared server has: the maildrop lock across
 * stores (nodes), a refused newer schema, leases of pending blobs reclaimed after a node died, and
 * 'unavailable' + reconnection when the server drops our connections.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openPostgresStore, openStore, type Store, StoreError } from '../../src/store/index.js';
import { SCHEMA_VERSION } from '../../src/store/postgres/index.js';
import { runStoreContract, type StoreFixture } from './contract.js';
import { runFeaturesContract } from './features-contract.js';
import { createTestDatabase, type TestDatabase } from './postgres/pg-test-db.js';
import { runForwardContract, runQueueContract } from './queue-contract.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

async function fixture(): Promise<StoreFixture> {
  const { url, schema } = await db.schemaUrl();
  // A small chunk size makes every test cross chunk boundaries.
  const store = await openPostgresStore(url, { chunkSize: 64 * 1024 });
  const count = async (table: string) =>
    Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.${table}`))[0]!.n);
  return {
    store,
    cleanup: async () => {
      await db.query(`DROP SCHEMA ${schema} CASCADE`);
    },
    inspect: {
      blobCount: () => count('blobs'),
      chunkCount: () => count('blob_chunks'),
      dropBodies: async () => {
        await db.query(`DELETE FROM ${schema}.blob_chunks`);
      },
    },
  };
}

runStoreContract('postgres', fixture);
runQueueContract('postgres', fixture);
runForwardContract('postgres', fixture);
runFeaturesContract('postgres', fixture);

const isStoreError = (code: string) => (err: unknown) => {
  assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return true;
};

async function seeded(url: string): Promise<{ store: Store; userId: number }> {
  const store = await openStore(url);
  await store.domains.add('uu.ac.kr');
  const u = await store.users.add({ address: 'kihyun@uu.ac.kr', passwordHash: 'scrypt$x' });
  return { store, userId: u.id };
}

test('two stores on one database (two nodes): one maildrop lock, uids and flags shared', async () => {
  const { url, schema } = await db.schemaUrl();
  const { store: a, userId } = await seeded(url);
  const b = await openStore(url);
  try {
    const lock = await a.lockMaildrop(userId);
    assert.ok(lock);
    assert.equal(await b.lockMaildrop(userId), undefined, 'node b got a lock node a holds');
    await lock.release();
    const lockB = await b.lockMaildrop(userId);
    assert.ok(lockB, 'released lock not free for node b');
    assert.equal(await a.lockMaildrop(userId), undefined);
    await lockB.release();

    // Concurrent deliveries through both nodes: uids 1..40, no gaps, no duplicates.
    const deliver = async (s: Store, i: number) => {
      const d = await s.openDelivery({ targets: [{ userId }], envelope: { mailFrom: '', rcptTo: [] } });
      await d.write(Buffer.from(`Subject: ${i}\r\n\r\nbody\r\n`));
      return d.commit();
    };
    await Promise.all(Array.from({ length: 40 }, (_, i) => deliver(i % 2 ? a : b, i)));
    const box = (await a.mailboxes.get(userId, 'INBOX'))!;
    const list = await b.messages.list(box.id);
    assert.deepEqual(
      list.map((m) => m.uid),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    await a.messages.setFlags(list[0]!.id, ['\\Seen']);
    assert.deepEqual((await b.messages.get(list[0]!.id))?.flags, ['\\Seen']);
    await b.messages.expunge(box.id, [list[1]!.id]);
    assert.equal((await a.messages.list(box.id)).length, 39);
  } finally {
    await a.close();
    await b.close();
    await db.query(`DROP SCHEMA ${schema} CASCADE`);
  }
});

test('account lookups cached by one node follow writes made on another (LISTEN/NOTIFY)', async () => {
  const { url, schema } = await db.schemaUrl();
  const { store: a } = await seeded(url);
  const b = await openStore(url);
  const eventually = async (what: string, check: () => Promise<boolean>) => {
    for (let i = 0; i < 100; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail(`node a never saw: ${what}`);
  };
  try {
    // Read twice on node a: the second read is served from its cache.
    assert.equal((await a.users.get('kihyun@uu.ac.kr'))?.passwordHash, 'scrypt$x');
    assert.equal((await a.users.get('kihyun@uu.ac.kr'))?.passwordHash, 'scrypt$x');
    assert.equal(await a.domains.has('other.example'), false);
    assert.equal(await a.aliases.get('all@uu.ac.kr'), undefined);
    await b.users.setPassword('kihyun@uu.ac.kr', 'scrypt$new');
    await b.domains.add('other.example');
    await b.aliases.add('all@uu.ac.kr', ['kihyun@uu.ac.kr']);
    await eventually(
      'the new password',
      async () => (await a.users.get('kihyun@uu.ac.kr'))?.passwordHash === 'scrypt$new',
    );
    await eventually('the new domain', () => a.domains.has('other.example'));
    await eventually('the new alias', async () => (await a.aliases.get('all@uu.ac.kr')) !== undefined);
    const id = (await a.users.get('kihyun@uu.ac.kr'))!.id;
    assert.ok(await a.users.getById(id));
    await b.users.remove('kihyun@uu.ac.kr');
    await eventually('the removal', async () => (await a.users.getById(id)) === undefined);
    // A value handed out is a copy: changing it changes nothing cached.
    const u = await b.users.add({ address: 'minji@uu.ac.kr', passwordHash: 'h' });
    (await a.users.getById(u.id))!.passwordHash = 'tampered';
    assert.equal((await a.users.getById(u.id))!.passwordHash, 'h');
  } finally {
    await a.close();
    await b.close();
    await db.query(`DROP SCHEMA ${schema} CASCADE`);
  }
});

test('the maildrop lock dies with its connection (the node died)', async () => {
  const { url, schema } = await db.schemaUrl();
  const { store: a, userId } = await seeded(url);
  const b = await openStore(url);
  try {
    assert.ok(await a.lockMaildrop(userId));
    // Kill node a's lock connection, as a crash or a partition would.
    await db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'posthorn-lock' AND pid <> pg_backend_pid()`,
    );
    let lock: Awaited<ReturnType<Store['lockMaildrop']>>;
    for (let i = 0; i < 50 && !lock; i++) {
      lock = await b.lockMaildrop(userId);
      if (!lock) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(lock, 'the lock outlived its connection');
    await lock.release();
  } finally {
    await a.close();
    await b.close();
    await db.query(`DROP SCHEMA ${schema} CASCADE`);
  }
});

test('a schema newer than this Posthorn is refused with one line, and left untouched', async () => {
  const { url, schema } = await db.schemaUrl();
  const s = await openStore(url);
  await s.close();
  await db.query(`UPDATE ${schema}.posthorn_schema SET version = ${SCHEMA_VERSION + 1}`);
  await assert.rejects(openStore(url), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.equal(err.code, 'invalid');
    assert.match(
      err.message,
      new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than ${SCHEMA_VERSION}`),
    );
    assert.ok(!err.message.includes('\n'));
    return true;
  });
  assert.equal(
    (await db.query<{ version: number }>(`SELECT version FROM ${schema}.posthorn_schema`))[0]!.version,
    SCHEMA_VERSION + 1,
  );
  await db.query(`DROP SCHEMA ${schema} CASCADE`);
});

test('pending bytes of a dead node are reclaimed once their lease ran out; live leases are renewed', async () => {
  const { url, schema } = await db.schemaUrl();
  const { store: dead, userId } = await seeded(url);
  const survivor = await openPostgresStore(url, { leaseMs: 1500 });
  try {
    const d = await dead.openDelivery({ targets: [{ userId }], envelope: { mailFrom: '', rcptTo: [] } });
    await d.write(Buffer.alloc(600 * 1024, 7)); // two full chunks written as pending rows
    const live = await survivor.openDelivery({
      targets: [{ userId }],
      envelope: { mailFrom: '', rcptTo: [] },
    });
    await live.write(Buffer.alloc(300 * 1024, 8));
    const pending = async () =>
      Number(
        (await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.blobs WHERE state = 0`))[0]!.n,
      );
    for (let i = 0; i < 50 && (await pending()) < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await pending(), 2);
    // The "dead" node never renews (its lease is 10 minutes); age it past the survivor's lease.
    await db.query(
      `UPDATE ${schema}.blobs SET lease_at = now() - interval '1 hour' WHERE state = 0 AND owner NOT IN
         (SELECT owner FROM ${schema}.blobs WHERE state = 0 ORDER BY id DESC LIMIT 1)`,
    );
    for (let i = 0; i < 100 && (await pending()) > 1; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await pending(), 1, "the dead node's blob is still there");
    await new Promise((r) => setTimeout(r, 1800)); // longer than the lease: renewal must keep ours
    const r = await live.commit();
    assert.equal(r.size, 300 * 1024);
    await assert.rejects(d.commit(), isStoreError('unavailable'));
    assert.equal(await pending(), 0);
  } finally {
    await dead.close();
    await survivor.close();
    await db.query(`DROP SCHEMA ${schema} CASCADE`);
  }
});

test('connections killed under load: failures are StoreError unavailable, then the pool reconnects', async () => {
  const { url, schema } = await db.schemaUrl();
  const { store, userId } = await seeded(url);
  try {
    let ok = 0;
    let unavailable = 0;
    const committed: string[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const d = await store.openDelivery({
            targets: [{ userId }],
            envelope: { mailFrom: '', rcptTo: [] },
          });
          await d.write(Buffer.from(`Subject: ${w}-${i}\r\n\r\n${'x'.repeat(2000)}\r\n`));
          const r = await d.commit();
          committed.push(r.messages[0]!.id);
          ok++;
        } catch (err) {
          assert.ok(err instanceof StoreError && err.code === 'unavailable', `unexpected ${String(err)}`);
          unavailable++;
        }
      }
    };
    const workers = Array.from({ length: 10 }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 300));
    // What a server restart does to every session of our database (other users of the server
    // are left alone). A kill that finds every connection idle fails no request (the pool just
    // reconnects), so on a loaded machine it may take a few: kill until one request failed, at
    // least three times.
    for (let i = 0; i < 3 || (unavailable === 0 && i < 60); i++) {
      await db.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name LIKE 'posthorn%' AND pid <> pg_backend_pid()`,
      );
      await new Promise((r) => setTimeout(r, i < 3 ? 150 : 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(workers);
    assert.ok(unavailable > 0, 'no failure seen: the fault was not injected');
    assert.ok(ok > 0);
    // The pool reconnected by itself and every acknowledged delivery is there.
    const box = (await store.mailboxes.get(userId, 'INBOX'))!;
    const ids = new Set((await store.messages.list(box.id)).map((m) => m.id));
    for (const id of committed) assert.ok(ids.has(id), `acknowledged message ${id} lost`);
    // Nothing half-stored: every blob is committed and referenced.
    const orphans = await db.query(
      `SELECT b.id FROM ${schema}.blobs b WHERE b.state = 1 AND NOT EXISTS
         (SELECT 1 FROM ${schema}.messages m WHERE m.blob_id = b.id)`,
    );
    assert.deepEqual(orphans, []);
  } finally {
    await store.close();
    await db.query(`DROP SCHEMA ${schema} CASCADE`);
  }
});

test('an unreachable server is StoreError unavailable, with the password not echoed', async () => {
  await assert.rejects(
    openStore('postgres://posthorn:secret@127.0.0.1:1/nowhere', { postgres: { connectTimeoutMs: 1000 } }),
    (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'unavailable');
      assert.ok(!err.message.includes('secret'), err.message);
      return true;
    },
  );
});

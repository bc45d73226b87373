/**
 * Schema step 2 (queue tables, users.forward) and the later steps run forward on a database
 * written by the first release (step 1) without losing anything, and the queue (and step 3's
 * vacation replies) work afterwards.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { tempDir } from '../support/tmp.js';

test('a step-1 database with mail in it migrates to the current step; mail, users and uids are kept', async () => {
  const path = join(tempDir(), 'old.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(MIGRATIONS[0]!.sql);
  db.pragma('user_version = 1');
  const now = Date.now();
  db.prepare('INSERT INTO domains VALUES (?, ?)').run('uu.ac.kr', now);
  db.prepare(
    "INSERT INTO users (id, address, address_key, local_key, domain, password_hash, created_at) VALUES (1, 'Kihyun@uu.ac.kr', 'kihyun@uu.ac.kr', 'kihyun', 'uu.ac.kr', 'scrypt$x', ?)",
  ).run(now);
  db.prepare('INSERT INTO mailboxes VALUES (1, 1, ?, 100, 8)').run('INBOX');
  db.prepare(
    'INSERT INTO blobs (id, state, size, sha256, envelope, created_at) VALUES (1, 1, 7, \'h\', \'{"mailFrom":"","rcptTo":[]}\', ?)',
  ).run(now);
  db.prepare('INSERT INTO blob_chunks VALUES (1, 0, ?)').run(Buffer.from('old msg'));
  db.prepare("INSERT INTO messages VALUES (1, 1, 7, 1, '\\Seen', ?)").run(now);
  db.close();

  const store = await openSqliteStore(path);
  try {
    const u = (await store.users.get('kihyun@uu.ac.kr'))!;
    assert.equal(u.address, 'Kihyun@uu.ac.kr');
    assert.equal(u.forward, undefined);
    const [m] = await store.messages.list(1);
    assert.deepEqual([m!.uid, m!.flags], [7, ['\\Seen']]);
    const parts: Buffer[] = [];
    for await (const c of store.messages.read(m!.id)) parts.push(Buffer.from(c));
    assert.equal(Buffer.concat(parts).toString(), 'old msg');
    // The new parts work.
    await store.users.setForward('kihyun@uu.ac.kr', { targets: ['k@remote.test'], keep: true });
    const d = await store.openDelivery({
      targets: [{ userId: u.id }],
      envelope: { mailFrom: 'a@b.test', rcptTo: ['kihyun@uu.ac.kr'] },
      queue: [
        {
          mailFrom: 'a@b.test',
          recipients: [{ address: 'k@remote.test' }],
          expiresAt: new Date(now + 60_000),
        },
      ],
    });
    await d.write(Buffer.from('new\r\n'));
    const r = await d.commit();
    assert.equal(r.messages[0]!.uid, 8);
    assert.equal((await store.queue.count()).entries, 1);
    await store.vacation.set(u.id, { enabled: true, subject: '', text: 'away', intervalDays: 7 });
    assert.equal((await store.vacation.active([u.id])).size, 1);
  } finally {
    await store.close();
  }
  const after = new Database(path, { readonly: true });
  assert.equal(after.pragma('user_version', { simple: true }), MIGRATIONS.length);
  after.close();
});

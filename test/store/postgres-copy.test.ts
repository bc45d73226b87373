/**
 * `posthorn store migrate [--dry-run]` and `posthorn store copy --from sqlite:… --to postgres://…`
 * through the real program: a SQLite installation with users, forwarding, aliases, several
 * mailboxes, shared and multi-chunk bodies, flags and a queue entry is copied; ids, UIDVALIDITY,
 * UIDs and bytes are the same on the other side; a second `--update` run after more mail and an
 * expunge brings the copy up to date; counts and hashes are printed and compared.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openStore, type Store, type User } from '../../src/store/index.js';
import { SCHEMA_VERSION } from '../../src/store/postgres/index.js';
import { cli } from '../support/posthorn.js';
import { tempDir } from '../support/tmp.js';
import { createTestDatabase, type TestDatabase } from './postgres/pg-test-db.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

async function deliver(store: Store, users: User[], body: Buffer | string, mailbox?: string) {
  const d = await store.openDelivery({
    targets: users.map((u) => ({ userId: u.id, mailbox })),
    envelope: { mailFrom: 'a@example.org', rcptTo: users.map((u) => u.address) },
  });
  await d.write(typeof body === 'string' ? Buffer.from(body) : body);
  return d.commit();
}

async function snapshot(store: Store) {
  const out: string[] = [];
  for (const u of await store.users.list()) {
    out.push(`user ${u.id} ${u.address} ${JSON.stringify(u.forward ?? null)}`);
    for (const b of await store.mailboxes.list(u.id)) {
      out.push(`box ${b.id} ${b.name} ${b.uidValidity} ${b.uidNext}`);
      for (const m of await store.messages.list(b.id)) {
        const h = createHash('sha256');
        for await (const c of store.messages.read(m.id)) h.update(c);
        out.push(`msg ${m.id} ${m.uid} ${m.flags.join(',')} ${m.size} ${h.digest('hex')}`);
      }
    }
  }
  return out;
}

test('store migrate --dry-run changes nothing; migrate creates the schema; a newer schema is refused', async () => {
  const { url, schema } = await db.schemaUrl();
  const dry = await cli(['store', 'migrate', '--dry-run', '--store', url]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /postgres store .*schema version 0; would apply:\n {2}1: accounts/);
  assert.deepEqual(await db.query(`SELECT to_regclass('${schema}.posthorn_schema') AS t`), [{ t: null }]);
  const run = await cli(['store', 'migrate', '--store', url]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`migrated from schema version 0 to ${SCHEMA_VERSION}`));
  const again = await cli(['store', 'migrate', '--store', url]);
  assert.match(again.stdout, /up to date/);
  await db.query(`UPDATE ${schema}.posthorn_schema SET version = version + 1`);
  const newer = await cli(['store', 'migrate', '--store', url]);
  assert.equal(newer.code, 1);
  assert.match(newer.stderr, /^posthorn: .*newer than \d+ known to this Posthorn; upgrade Posthorn\n$/);
  const sqlite = join(tempDir('posthorn-migrate-'), 'm.db');
  const sdry = await cli(['store', 'migrate', '--dry-run', '--store', `sqlite:${sqlite}`]);
  assert.match(sdry.stdout, /sqlite store .*schema version 0; would apply/);
});

test('store copy: SQLite to PostgreSQL keeps ids, UIDs and bytes; --update follows later changes', async () => {
  const { url } = await db.schemaUrl();
  const sqliteUrl = `sqlite:${join(tempDir('posthorn-copy-'), 'posthorn.db')}`;
  const src = await openStore(sqliteUrl);
  let sentId = '';
  try {
    await src.domains.add('uu.ac.kr');
    const kihyun = await src.users.add({ address: 'Kihyun@uu.ac.kr', passwordHash: 'scrypt$k' });
    const minji = await src.users.add({ address: 'minji@uu.ac.kr', passwordHash: 'scrypt$m', isAdmin: true });
    await src.users.setForward('minji@uu.ac.kr', { targets: ['m@far.example'], keep: true });
    await src.vacation.set(minji.id, { enabled: true, subject: '', text: '휴가 중', intervalDays: 3 });
    await src.aliases.add('all@uu.ac.kr', ['kihyun@uu.ac.kr', 'minji@uu.ac.kr']);
    const big = Buffer.alloc(700 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 9)) & 0xff;
    await deliver(src, [kihyun, minji], 'Subject: shared\r\n\r\nfor both\r\n');
    const gone = await deliver(src, [kihyun], 'Subject: to be expunged\r\n\r\nx\r\n');
    const flagged = await deliver(src, [kihyun], big);
    const sent = await deliver(src, [kihyun], 'Subject: sent\r\n\r\ncopy\r\n', 'Sent');
    sentId = sent.messages[0]!.id;
    await src.sent.link(sentId, {
      sha256: 'f'.repeat(64),
      recipients: [
        { address: 'minji@uu.ac.kr', local: true, queued: [] },
        {
          address: 'x@far.example',
          local: false,
          queued: [{ queueId: '1', index: 0, address: 'x@far.example' }],
        },
      ],
    });
    await src.messages.setFlags(flagged.messages[0]!.id, ['\\Seen']);
    const box = (await src.mailboxes.get(kihyun.id, 'INBOX'))!;
    await src.messages.expunge(box.id, [gone.messages[0]!.id]);
    const q = await src.openDelivery({
      targets: [],
      envelope: { mailFrom: 'kihyun@uu.ac.kr', rcptTo: ['x@far.example'] },
      queue: [
        {
          mailFrom: 'kihyun@uu.ac.kr',
          recipients: [{ address: 'x@far.example' }],
          expiresAt: new Date(Date.now() + 86_400_000),
        },
      ],
    });
    await q.write(Buffer.from('Subject: outbound\r\n\r\nqueued\r\n'));
    await q.commit();
  } finally {
    await src.close();
  }

  const first = await cli(['store', 'copy', '--from', sqliteUrl, '--to', url]);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /copied 4 messages/);
  assert.match(
    first.stdout,
    /source: 1 domains, 2 users, 1 aliases, 3 mailboxes, 4 messages .* 1 queue entries; manifest sha256 ([0-9a-f]{64})/,
  );
  const [, srcHash] = /source: .*manifest sha256 ([0-9a-f]{64})/.exec(first.stdout)!;
  const [, dstHash] = /target: .*manifest sha256 ([0-9a-f]{64})/.exec(first.stdout)!;
  assert.equal(srcHash, dstHash);
  assert.match(first.stdout, /bodies re-read from the target and hashed: 4\n/);
  assert.match(first.stdout, /verified: counts and hashes match/);

  const check = async () => {
    const a = await openStore(sqliteUrl);
    const b = await openStore(url);
    try {
      assert.deepEqual(await snapshot(b), await snapshot(a));
      assert.deepEqual(
        (await b.queue.list()).map((e) => [e.mailFrom, e.recipients[0]!.address, e.sha256]),
        (await a.queue.list()).map((e) => [e.mailFrom, e.recipients[0]!.address, e.sha256]),
      );
      assert.equal((await b.users.get('minji@uu.ac.kr'))!.forward?.keep, true);
      const minjiId = (await a.users.get('minji@uu.ac.kr'))!.id;
      assert.deepEqual(await b.vacation.get(minjiId), await a.vacation.get(minjiId));
      assert.equal((await b.vacation.get(minjiId))?.text, '휴가 중');
      // The Sent copy keeps its delivery record (which recipient went where).
      assert.deepEqual(await b.sent.get(sentId), await a.sent.get(sentId));
      assert.equal((await b.sent.get(sentId))?.recipients.length, 2);
      assert.deepEqual((await b.aliases.get('all@uu.ac.kr'))!.targets, ['kihyun@uu.ac.kr', 'minji@uu.ac.kr']);
    } finally {
      await a.close();
      await b.close();
    }
  };
  await check();

  // Mail keeps arriving at the old node; then it is stopped and the copy brought up to date.
  const src2 = await openStore(sqliteUrl);
  try {
    const k = (await src2.users.get('kihyun@uu.ac.kr'))!;
    await deliver(src2, [k], 'Subject: late\r\n\r\narrived during the copy\r\n');
    const box = (await src2.mailboxes.get(k.id, 'INBOX'))!;
    const first = (await src2.messages.list(box.id))[0]!;
    await src2.messages.expunge(box.id, [first.id]);
    // And one message moved to another folder (same id, new uid there).
    const trash = await src2.mailboxes.ensure(k.id, 'Trash');
    await src2.messages.move([(await src2.messages.list(box.id))[0]!.id], trash.id);
  } finally {
    await src2.close();
  }
  const refused = await cli(['store', 'copy', '--from', sqliteUrl, '--to', url]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /already holds users.*--update/);
  const second = await cli(['store', 'copy', '--from', sqliteUrl, '--to', url, '--update']);
  assert.equal(second.code, 0, second.stdout + second.stderr);
  assert.match(second.stdout, /copied 2 messages .* removed 2/);
  assert.match(second.stdout, /verified: counts and hashes match/);
  await check();

  // The copy serves new mail with the next UIDs, never reusing one.
  const b = await openStore(url);
  try {
    const k = (await b.users.get('kihyun@uu.ac.kr'))!;
    const box = (await b.mailboxes.get(k.id, 'INBOX'))!;
    const r = await deliver(b, [k], 'Subject: first on postgres\r\n\r\nhi\r\n');
    assert.equal(r.messages[0]!.uid, box.uidNext);
  } finally {
    await b.close();
  }
});

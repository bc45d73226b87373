/**
 * The Store contract suite (src/store/types.ts): every backend runs it through
 * `runStoreContract(name, factory)`. The factory gives a fresh, empty store and, optionally, an
 * `inspect` view of the backend's storage so that the suite can check that bytes are really freed
 * and that listing really does not read bodies.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, type TestContext, test } from 'node:test';
import { type DeliveryOptions, type Store, StoreError, type User } from '../../src/store/index.js';

export interface StoreInspector {
  /** Stored message bodies (one per committed delivery still referenced), and pending ones. */
  blobCount(): Promise<number>;
  /** Rows/files holding body bytes, when the backend has such a notion. */
  chunkCount?(): Promise<number>;
  /** Destroys every stored body behind the store's back (then listing must still work). */
  dropBodies?(): Promise<void>;
}

export interface StoreFixture {
  store: Store;
  cleanup(): Promise<void>;
  inspect: StoreInspector;
}

const isStoreError = (code: string) => (err: unknown) => {
  assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return true;
};

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function readAll(store: Store, id: string): Promise<{ bytes: Buffer; maxChunk: number }> {
  const parts: Buffer[] = [];
  let maxChunk = 0;
  for await (const c of store.messages.read(id)) {
    parts.push(Buffer.from(c));
    maxChunk = Math.max(maxChunk, c.byteLength);
  }
  return { bytes: Buffer.concat(parts), maxChunk };
}

function envelope(rcpt: string[]): DeliveryOptions['envelope'] {
  return { mailFrom: 'sender@example.org', rcptTo: rcpt, mailParams: { BODY: '8BITMIME' } };
}

async function deliver(
  store: Store,
  users: User[],
  bytes: Uint8Array | string,
  opts: Partial<DeliveryOptions> = {},
) {
  const d = await store.openDelivery({
    targets: users.map((u) => ({ userId: u.id })),
    envelope: envelope(users.map((u) => u.address)),
    ...opts,
  });
  await d.write(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
  return d.commit();
}

async function inbox(store: Store, user: User) {
  return (await store.mailboxes.ensure(user.id, 'INBOX')).id;
}

export function runStoreContract(name: string, factory: () => Promise<StoreFixture>): void {
  /** Runs `fn` against a fresh store with domain uu.ac.kr and users kihyun, minji, jisoo. */
  const withStore =
    (fn: (f: StoreFixture, users: User[], t: TestContext) => Promise<void>) => async (t: TestContext) => {
      const f = await factory();
      try {
        await f.store.domains.add('uu.ac.kr');
        const users: User[] = [];
        for (const l of ['kihyun', 'minji', 'jisoo']) {
          users.push(
            await f.store.users.add({ address: `${l}@uu.ac.kr`, passwordHash: `scrypt$hash-of-${l}` }),
          );
        }
        await fn(f, users, t);
      } finally {
        await f.store.close();
        await f.cleanup();
      }
    };

  describe(`Store contract: ${name}`, () => {
    test('domains: stored lower-cased, compared case-insensitively, conflicts refused', async () => {
      const f = await factory();
      const { store } = f;
      try {
        const d = await store.domains.add('Example.ORG');
        assert.equal(d.name, 'example.org');
        assert.ok(d.createdAt instanceof Date);
        assert.equal(await store.domains.has('EXAMPLE.org'), true);
        assert.equal(await store.domains.has('other.org'), false);
        await assert.rejects(store.domains.add('example.org'), isStoreError('conflict'));
        await store.domains.add('b.example');
        assert.deepEqual(
          (await store.domains.list()).map((x) => x.name),
          ['b.example', 'example.org'],
        );
        await assert.rejects(store.domains.add('bad domain'), isStoreError('invalid'));
        await assert.rejects(store.domains.add(''), isStoreError('invalid'));
        await assert.rejects(store.domains.remove('nowhere.example'), isStoreError('not-found'));
        // Lookups of malformed names (as SMTP may hand them over) answer "absent", never throw.
        assert.equal(await store.domains.has('[127.0.0.1]'), false);
        assert.equal(await store.users.get('user@[127.0.0.1]'), undefined);
        assert.equal(await store.users.get('no-at-sign'), undefined);
        assert.equal(await store.aliases.get('"odd"@bad domain'), undefined);
        assert.deepEqual(await store.users.list('bad domain'), []);
        assert.deepEqual(await store.aliases.list('bad domain'), []);
        await store.users.add({ address: 'a@example.org', passwordHash: 'h' });
        await assert.rejects(store.domains.remove('example.org'), isStoreError('conflict'));
        await store.users.remove('A@EXAMPLE.ORG');
        await store.aliases.add('x@example.org', ['y@elsewhere.example']);
        await assert.rejects(store.domains.remove('example.org'), isStoreError('conflict'));
        await store.aliases.remove('x@example.org');
        await store.domains.remove('EXAMPLE.ORG');
        assert.equal(await store.domains.has('example.org'), false);
      } finally {
        await store.close();
        await f.cleanup();
      }
    });

    test(
      'users: local part keeps its case, lookups ignore case, conflicts and unknown domains refused',
      withStore(async ({ store }, [kihyun]) => {
        const u = await store.users.add({
          address: 'Kim.Minsu@UU.AC.KR',
          passwordHash: 'scrypt$1',
          isAdmin: true,
        });
        assert.equal(u.address, 'Kim.Minsu@uu.ac.kr');
        assert.equal(u.isAdmin, true);
        assert.equal(kihyun!.isAdmin, false);
        const got = await store.users.get('kim.minsu@uu.ac.kr');
        assert.equal(got?.id, u.id);
        assert.equal(got?.address, 'Kim.Minsu@uu.ac.kr');
        assert.equal(got?.passwordHash, 'scrypt$1');
        assert.equal((await store.users.getById(u.id))?.address, 'Kim.Minsu@uu.ac.kr');
        assert.equal(await store.users.getById(987654), undefined);
        assert.equal(await store.users.get('nobody@uu.ac.kr'), undefined);
        await assert.rejects(
          store.users.add({ address: 'KIM.MINSU@uu.ac.kr', passwordHash: 'x' }),
          isStoreError('conflict'),
        );
        await assert.rejects(
          store.users.add({ address: 'x@unknown.example', passwordHash: 'x' }),
          isStoreError('not-found'),
        );
        await assert.rejects(
          store.users.add({ address: 'no-at-sign', passwordHash: 'x' }),
          isStoreError('invalid'),
        );

        await store.domains.add('other.example');
        const other = await store.users.add({ address: 'KIHYUN@other.example', passwordHash: 'x' });
        const found = await store.users.findByLocalPart('Kihyun');
        assert.deepEqual(
          found.map((x) => x.id),
          [kihyun!.id, other.id],
        );
        assert.deepEqual(
          (await store.users.list('OTHER.example')).map((x) => x.address),
          ['KIHYUN@other.example'],
        );
        assert.equal((await store.users.list()).length, 5);

        await store.users.setPassword('KIHYUN@uu.ac.kr', 'scrypt$new');
        assert.equal((await store.users.get('kihyun@uu.ac.kr'))?.passwordHash, 'scrypt$new');
        await assert.rejects(store.users.setPassword('ghost@uu.ac.kr', 'x'), isStoreError('not-found'));
        await assert.rejects(store.users.remove('ghost@uu.ac.kr'), isStoreError('not-found'));
      }),
    );

    test(
      'aliases: created, extended without duplicates, listed, removed; never shadow a user',
      withStore(async ({ store }) => {
        const a = await store.aliases.add('Postmaster@UU.ac.kr', ['kihyun@uu.ac.kr', 'far@away.example']);
        assert.equal(a.address, 'Postmaster@uu.ac.kr');
        assert.deepEqual(a.targets, ['kihyun@uu.ac.kr', 'far@away.example']);
        const b = await store.aliases.add('postmaster@uu.ac.kr', ['KIHYUN@uu.ac.kr', 'minji@uu.ac.kr']);
        assert.deepEqual(b.targets, ['kihyun@uu.ac.kr', 'far@away.example', 'minji@uu.ac.kr']);
        assert.deepEqual(await store.aliases.get('POSTMASTER@uu.ac.kr'), b);
        await store.domains.add('other.example');
        await store.aliases.add('all@other.example', ['kihyun@uu.ac.kr']);
        assert.deepEqual(
          (await store.aliases.list('uu.ac.kr')).map((x) => x.address),
          ['Postmaster@uu.ac.kr'],
        );
        assert.equal((await store.aliases.list()).length, 2);
        await assert.rejects(store.aliases.add('kihyun@uu.ac.kr', ['x@y.example']), isStoreError('conflict'));
        await assert.rejects(
          store.users.add({ address: 'postmaster@uu.ac.kr', passwordHash: 'x' }),
          isStoreError('conflict'),
        );
        await assert.rejects(
          store.aliases.add('a@nowhere.example', ['x@y.example']),
          isStoreError('not-found'),
        );
        await assert.rejects(store.aliases.add('a@uu.ac.kr', []), isStoreError('invalid'));
        await store.aliases.remove('POSTMASTER@uu.ac.kr');
        assert.equal(await store.aliases.get('postmaster@uu.ac.kr'), undefined);
        await assert.rejects(store.aliases.remove('postmaster@uu.ac.kr'), isStoreError('not-found'));
      }),
    );

    test(
      'mailboxes: ensure creates once, INBOX is case-insensitive, unknown users refused',
      withStore(async ({ store }, [kihyun, minji]) => {
        const a = await store.mailboxes.ensure(kihyun!.id, 'inbox');
        assert.equal(a.name, 'INBOX');
        assert.equal(a.userId, kihyun!.id);
        assert.equal(a.uidNext, 1);
        assert.ok(a.uidValidity > 0);
        const b = await store.mailboxes.ensure(kihyun!.id, 'INBOX');
        assert.equal(b.id, a.id);
        await store.mailboxes.ensure(kihyun!.id, 'Trash');
        assert.deepEqual((await store.mailboxes.list(kihyun!.id)).map((m) => m.name).sort(), [
          'INBOX',
          'Trash',
        ]);
        assert.equal(await store.mailboxes.get(kihyun!.id, 'trash'), undefined, 'only INBOX ignores case');
        assert.equal((await store.mailboxes.get(kihyun!.id, 'Inbox'))?.id, a.id);
        assert.deepEqual(await store.mailboxes.list(minji!.id), []);
        // A mailbox created again (after its user was removed and re-added) gets a new UIDVALIDITY.
        await store.users.remove(kihyun!.address);
        const again = await store.users.add({ address: kihyun!.address, passwordHash: 'x' });
        const c = await store.mailboxes.ensure(again.id, 'INBOX');
        assert.ok(c.uidValidity > a.uidValidity, 'UIDVALIDITY repeated');
        await assert.rejects(store.mailboxes.ensure(999999, 'INBOX'), isStoreError('not-found'));
      }),
    );

    test(
      'delivery: invisible before commit, then listed with uid, size, flags and sha256',
      withStore(async ({ store }, [kihyun]) => {
        const body = 'Return-Path: <sender@example.org>\r\nSubject: hi\r\n\r\nHello, Kihyun.\r\n';
        const d = await store.openDelivery({
          targets: [
            { userId: kihyun!.id },
            { userId: kihyun!.id, mailbox: 'Sent', flags: ['\\Seen', '\\Seen'] },
          ],
          envelope: envelope([kihyun!.address]),
          receivedAt: new Date('2026-03-02T09:00:00Z'),
        });
        await d.write(Buffer.from(body.slice(0, 10)));
        await d.write(Buffer.from(body.slice(10)));
        assert.equal(
          await store.mailboxes.get(kihyun!.id, 'Sent'),
          undefined,
          'no mailbox created before commit',
        );
        const box = await inbox(store, kihyun!);
        assert.deepEqual(await store.messages.list(box), []);
        assert.equal(
          (await store.mailboxes.get(kihyun!.id, 'INBOX'))?.uidNext,
          1,
          'no uid taken before commit',
        );
        const r = await d.commit();
        assert.equal(r.size, Buffer.byteLength(body));
        assert.equal(r.sha256, sha(Buffer.from(body)));
        assert.equal(r.messages.length, 2);
        const [m, sent] = r.messages;
        assert.equal(m!.uid, 1);
        assert.equal(m!.mailboxId, box);
        assert.deepEqual(m!.flags, []);
        assert.deepEqual(sent!.flags, ['\\Seen']);
        assert.equal(sent!.mailboxId, (await store.mailboxes.get(kihyun!.id, 'Sent'))!.id);
        assert.equal(m!.receivedAt.toISOString(), '2026-03-02T09:00:00.000Z');
        assert.deepEqual(await store.messages.list(box), [m]);
        assert.deepEqual(await store.messages.get(m!.id), m);
        assert.equal(await store.messages.get('999999'), undefined);
        assert.equal(await store.messages.get('not-an-id'), undefined);
        assert.equal((await readAll(store, m!.id)).bytes.toString(), body);
        assert.equal((await store.mailboxes.get(kihyun!.id, 'INBOX'))?.uidNext, 2);
        await assert.rejects(d.commit(), isStoreError('invalid'));
        await assert.rejects(d.write(Buffer.from('x')), isStoreError('invalid'));
      }),
    );

    test(
      'delivery to several mailboxes commits all or none; bytes stored once',
      withStore(async ({ store, inspect }, users) => {
        const before = await inspect.blobCount();
        const r = await deliver(store, users, 'Subject: to all\r\n\r\nhi\r\n');
        assert.equal(r.messages.length, 3);
        assert.equal(await inspect.blobCount(), before + 1, 'one copy of the bytes for three mailboxes');
        for (const [i, u] of users.entries()) {
          const list = await store.messages.list(await inbox(store, u));
          assert.equal(list.length, 1);
          assert.equal(list[0]!.id, r.messages[i]!.id);
          assert.equal(list[0]!.sha256, r.sha256);
        }
        // One unknown target fails the whole delivery: nothing lands anywhere, no uid is taken.
        const d = await store.openDelivery({
          targets: [{ userId: users[0]!.id }, { userId: 424242 }, { userId: users[1]!.id, mailbox: 'Fresh' }],
          envelope: envelope(['a@uu.ac.kr']),
        });
        await d.write(Buffer.alloc(300 * 1024, 0x61)); // more than one chunk in chunked backends
        await assert.rejects(d.commit(), isStoreError('not-found'));
        assert.equal((await store.messages.list(await inbox(store, users[0]!))).length, 1);
        assert.equal(await store.mailboxes.get(users[1]!.id, 'Fresh'), undefined);
        assert.equal((await store.mailboxes.get(users[0]!.id, 'INBOX'))?.uidNext, 2);
        assert.equal(await inspect.blobCount(), before + 1, 'the failed delivery left no bytes');
        const next = await deliver(store, [users[0]!], 'x');
        assert.equal(next.messages[0]!.uid, 2);
      }),
    );

    test(
      'abort leaves nothing behind: no entry, no uid, no bytes',
      withStore(async ({ store, inspect }, [kihyun]) => {
        const box = await inbox(store, kihyun!);
        const blobs = await inspect.blobCount();
        const chunks = await inspect.chunkCount?.();
        const d = await store.openDelivery({
          targets: [{ userId: kihyun!.id }],
          envelope: envelope([kihyun!.address]),
        });
        for (let i = 0; i < 10; i++) await d.write(Buffer.alloc(100 * 1024, i));
        await d.abort();
        await d.abort(); // twice is harmless
        await assert.rejects(d.commit(), isStoreError('invalid'));
        assert.deepEqual(await store.messages.list(box), []);
        assert.equal(await inspect.blobCount(), blobs);
        assert.equal(await inspect.chunkCount?.(), chunks);
        const r = await deliver(store, [kihyun!], 'after abort');
        assert.equal(r.messages[0]!.uid, 1);
      }),
    );

    test(
      'uids strictly increase and are never reused after expunge',
      withStore(async ({ store }, [kihyun]) => {
        const ids: string[] = [];
        for (let i = 1; i <= 3; i++) {
          const r = await deliver(store, [kihyun!], `message ${i}`);
          assert.equal(r.messages[0]!.uid, i);
          ids.push(r.messages[0]!.id);
        }
        const box = await inbox(store, kihyun!);
        await store.messages.expunge(box, [ids[2]!, ids[1]!]);
        assert.deepEqual(
          (await store.messages.list(box)).map((m) => m.uid),
          [1],
        );
        const r = await deliver(store, [kihyun!], 'message 4');
        assert.equal(r.messages[0]!.uid, 4);
        assert.equal((await store.mailboxes.get(kihyun!.id, 'INBOX'))?.uidNext, 5);
        assert.deepEqual(
          (await store.messages.list(box)).map((m) => m.uid),
          [1, 4],
        );
      }),
    );

    test(
      'read streams the exact bytes, binary 0-255 included, across chunk boundaries',
      withStore(async ({ store }, [kihyun]) => {
        const all = Buffer.alloc(700 * 1024);
        for (let i = 0; i < all.length; i++) all[i] = (i * 7 + (i >> 8)) & 0xff;
        const d = await store.openDelivery({
          targets: [{ userId: kihyun!.id }],
          envelope: envelope([kihyun!.address]),
        });
        // Odd piece sizes, and one reused buffer: the store must copy what it is given.
        const reused = Buffer.alloc(4099);
        let off = 0;
        for (const n of [1, 2, 255, 256, 257]) {
          await d.write(all.subarray(off, off + n));
          off += n;
        }
        while (off < all.length) {
          const n = all.copy(reused, 0, off, Math.min(all.length, off + reused.length));
          await d.write(reused.subarray(0, n));
          reused.fill(0xee);
          off += n;
        }
        const r = await d.commit();
        assert.equal(r.size, all.length);
        assert.equal(r.sha256, sha(all));
        const got = await readAll(store, r.messages[0]!.id);
        assert.ok(got.bytes.equals(all), 'bytes read back differ');
        await assert.rejects(readAll(store, '424242'), isStoreError('not-found'));
      }),
    );

    test(
      'a 25 MiB message written in 64 KiB chunks reads back whole, in pieces',
      withStore(async ({ store }, [kihyun]) => {
        const chunk = Buffer.alloc(64 * 1024);
        const hash = createHash('sha256');
        const d = await store.openDelivery({
          targets: [{ userId: kihyun!.id }],
          envelope: envelope([kihyun!.address]),
        });
        for (let i = 0; i < 400; i++) {
          chunk.fill(i & 0xff);
          chunk.writeUInt32BE(i, 0);
          hash.update(chunk);
          await d.write(chunk);
        }
        const expected = hash.digest('hex');
        const r = await d.commit();
        assert.equal(r.size, 25 * 1024 * 1024);
        assert.equal(r.sha256, expected);
        const readHash = createHash('sha256');
        let size = 0;
        let pieces = 0;
        for await (const c of store.messages.read(r.messages[0]!.id)) {
          assert.ok(c.byteLength <= 4 * 1024 * 1024, `a ${c.byteLength}-byte piece is not streaming`);
          readHash.update(c);
          size += c.byteLength;
          pieces++;
        }
        assert.equal(size, r.size);
        assert.equal(readHash.digest('hex'), expected);
        assert.ok(pieces >= 7, `only ${pieces} pieces`);
      }),
    );

    test(
      'readSmall: several messages whole in one call, in the order asked, within the budget',
      withStore(async ({ store }, [kihyun, minji]) => {
        const bodies = [0, 1, 2, 3].map((i) =>
          Buffer.from(`Subject: m${i}\r\n\r\n${'x'.repeat(100 * i)}\r\n`),
        );
        const ids: string[] = [];
        for (const b of bodies) ids.push((await deliver(store, [kihyun!], b)).messages[0]!.id);
        const gone = ids[1]!;
        await store.messages.expunge(await inbox(store, kihyun!), [gone]);
        // Another user's message is read too: the caller (a POP3 maildrop) chose the ids.
        const other = (await deliver(store, [minji!], 'Subject: o\r\n\r\nother\r\n')).messages[0]!.id;

        const order = [ids[3]!, gone, ids[0]!, 'no-such-id', other, ids[2]!];
        const got = await store.messages.readSmall(order, 1024 * 1024);
        assert.deepEqual([...got.keys()], [ids[3]!, ids[0]!, other, ids[2]!]);
        assert.deepEqual(Buffer.from(got.get(ids[3]!)!), bodies[3]);
        assert.deepEqual(Buffer.from(got.get(ids[0]!)!), bodies[0]);
        assert.deepEqual(Buffer.from(got.get(ids[2]!)!), bodies[2]);
        assert.equal(Buffer.from(got.get(other)!).toString(), 'Subject: o\r\n\r\nother\r\n');

        // The budget stops the list at the first message that does not fit; the first always comes.
        const cut = await store.messages.readSmall([ids[0]!, ids[3]!, ids[2]!], bodies[0]!.length + 10);
        assert.deepEqual([...cut.keys()], [ids[0]!]);
        const one = await store.messages.readSmall([ids[3]!], 1);
        assert.deepEqual([...one.keys()], [ids[3]!]);
        assert.equal((await store.messages.readSmall([], 1024)).size, 0);
      }),
    );

    test(
      'listing never reads bodies',
      withStore(async ({ store, inspect }, [kihyun], t) => {
        if (!inspect.dropBodies) return t.skip('bodies are not apart from metadata in this backend');
        const r = await deliver(store, [kihyun!], 'Subject: x\r\n\r\nbody\r\n');
        await inspect.dropBodies();
        const list = await store.messages.list(await inbox(store, kihyun!));
        assert.deepEqual(list, r.messages);
        assert.deepEqual(await store.messages.get(r.messages[0]!.id), r.messages[0]);
      }),
    );

    test(
      'expunge frees the bytes once no mailbox refers to them; refuses foreign ids atomically',
      withStore(async ({ store, inspect }, [kihyun, minji]) => {
        const blobs = await inspect.blobCount();
        const chunks = await inspect.chunkCount?.();
        const shared = await deliver(store, [kihyun!, minji!], Buffer.alloc(600 * 1024, 0x42));
        const own = await deliver(store, [kihyun!], 'own');
        assert.equal(await inspect.blobCount(), blobs + 2);
        const kBox = await inbox(store, kihyun!);
        const mBox = await inbox(store, minji!);
        await assert.rejects(
          store.messages.expunge(kBox, [own.messages[0]!.id, shared.messages[1]!.id]),
          isStoreError('not-found'),
        );
        assert.equal((await store.messages.list(kBox)).length, 2, 'nothing expunged by a refused call');
        await store.messages.expunge(kBox, [shared.messages[0]!.id, own.messages[0]!.id]);
        assert.deepEqual(await store.messages.list(kBox), []);
        assert.equal(await inspect.blobCount(), blobs + 1, 'shared bytes kept for minji');
        assert.ok(
          (await readAll(store, shared.messages[1]!.id)).bytes.equals(Buffer.alloc(600 * 1024, 0x42)),
        );
        await store.messages.expunge(mBox, [shared.messages[1]!.id]);
        assert.equal(await inspect.blobCount(), blobs);
        assert.equal(await inspect.chunkCount?.(), chunks);
        await store.messages.expunge(mBox, []);
      }),
    );

    test(
      'removing a user removes its mailboxes and messages and frees their bytes',
      withStore(async ({ store, inspect }, [kihyun, minji]) => {
        const blobs = await inspect.blobCount();
        await deliver(store, [kihyun!], 'only kihyun');
        const both = await deliver(store, [kihyun!, minji!], 'both');
        await store.users.remove(kihyun!.address);
        assert.equal(await store.users.getById(kihyun!.id), undefined);
        assert.deepEqual(await store.mailboxes.list(kihyun!.id), []);
        assert.equal(await store.messages.get(both.messages[0]!.id), undefined);
        assert.equal(await inspect.blobCount(), blobs + 1);
        assert.equal((await readAll(store, both.messages[1]!.id)).bytes.toString(), 'both');
      }),
    );

    test(
      'flags: set, normalized, listed',
      withStore(async ({ store }, [kihyun]) => {
        const r = await deliver(store, [kihyun!], 'x');
        const id = r.messages[0]!.id;
        await store.messages.setFlags(id, ['\\Seen', '$Label', '\\Seen']);
        assert.deepEqual((await store.messages.get(id))?.flags, ['$Label', '\\Seen']);
        await store.messages.setFlags(id, []);
        assert.deepEqual((await store.messages.list(await inbox(store, kihyun!)))[0]?.flags, []);
        await assert.rejects(store.messages.setFlags('424242', ['\\Seen']), isStoreError('not-found'));
        await assert.rejects(store.messages.setFlags(id, ['two words']), isStoreError('invalid'));
      }),
    );

    test(
      'move gives new uids in the target mailbox of the same user and keeps the bytes',
      withStore(async ({ store }, [kihyun, minji]) => {
        const a = await deliver(store, [kihyun!], 'first');
        const b = await deliver(store, [kihyun!], 'second');
        const c = await deliver(store, [kihyun!], 'third');
        const trash = await store.mailboxes.ensure(kihyun!.id, 'Trash');
        await deliver(store, [kihyun!], 'already in trash', {
          targets: [{ userId: kihyun!.id, mailbox: 'Trash' }],
        });
        await store.messages.move([c.messages[0]!.id, a.messages[0]!.id], trash.id);
        const box = await inbox(store, kihyun!);
        assert.deepEqual(
          (await store.messages.list(box)).map((m) => m.uid),
          [b.messages[0]!.uid],
        );
        const moved = await store.messages.list(trash.id);
        assert.deepEqual(
          moved.map((m) => m.uid),
          [1, 2, 3],
        );
        const texts = [];
        for (const m of moved) texts.push((await readAll(store, m.id)).bytes.toString());
        assert.deepEqual(texts, ['already in trash', 'first', 'third'], 'moved in source uid order');
        assert.equal((await store.mailboxes.get(kihyun!.id, 'Trash'))?.uidNext, 4);
        const other = await inbox(store, minji!);
        await assert.rejects(store.messages.move([b.messages[0]!.id], other), isStoreError('invalid'));
        await assert.rejects(store.messages.move([b.messages[0]!.id], 424242), isStoreError('not-found'));
        await assert.rejects(store.messages.move(['424242'], trash.id), isStoreError('not-found'));
      }),
    );

    test(
      'maildrop lock is exclusive and can be taken again after release',
      withStore(async ({ store }, [kihyun, minji]) => {
        const lock = await store.lockMaildrop(kihyun!.id);
        assert.ok(lock);
        assert.equal(await store.lockMaildrop(kihyun!.id), undefined);
        const other = await store.lockMaildrop(minji!.id);
        assert.ok(other, 'another user is not blocked');
        await lock.release();
        await lock.release(); // harmless, and must not free a lock taken by someone else since
        const again = await store.lockMaildrop(kihyun!.id);
        assert.ok(again);
        await lock.release();
        assert.equal(await store.lockMaildrop(kihyun!.id), undefined, 'a stale release freed a live lock');
        await again.release();
        await other.release();
      }),
    );

    test(
      '100 concurrent deliveries all commit, all visible, with distinct uids',
      withStore(async ({ store }, [kihyun, minji]) => {
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            deliver(
              store,
              i % 2 ? [kihyun!, minji!] : [kihyun!],
              `Subject: ${i}\r\n\r\n${'x'.repeat(4000)}\r\n`,
            ),
          ),
        );
        const list = await store.messages.list(await inbox(store, kihyun!));
        assert.equal(list.length, 100);
        assert.deepEqual(
          list.map((m) => m.uid),
          Array.from({ length: 100 }, (_, i) => i + 1),
        );
        assert.equal(new Set(results.map((r) => r.messages[0]!.uid)).size, 100);
        assert.equal((await store.messages.list(await inbox(store, minji!))).length, 50);
        const i = 37;
        assert.equal(
          (await readAll(store, results[i]!.messages[0]!.id)).bytes.toString(),
          `Subject: ${i}\r\n\r\n${'x'.repeat(4000)}\r\n`,
        );
      }),
    );

    test('close lets a pending commit finish, ends open deliveries, then refuses work', async () => {
      const f = await factory();
      const { store } = f;
      await store.domains.add('uu.ac.kr');
      const u = await store.users.add({ address: 'kihyun@uu.ac.kr', passwordHash: 'x' });
      const committing = await store.openDelivery({
        targets: [{ userId: u.id }],
        envelope: envelope([u.address]),
      });
      await committing.write(Buffer.from('committed while closing'));
      const open = await store.openDelivery({ targets: [{ userId: u.id }], envelope: envelope([u.address]) });
      await open.write(Buffer.alloc(200 * 1024, 1));
      const commit = committing.commit();
      await store.close();
      await store.close();
      assert.equal((await commit).messages[0]!.uid, 1);
      await assert.rejects(open.write(Buffer.from('x')), isStoreError('unavailable'));
      await assert.rejects(open.commit(), isStoreError('unavailable'));
      await assert.rejects(store.domains.list(), isStoreError('unavailable'));
      await assert.rejects(store.domains.add('x.example'), isStoreError('unavailable'));
      await assert.rejects(
        store.openDelivery({ targets: [{ userId: u.id }], envelope: envelope([]) }),
        isStoreError('unavailable'),
      );
      await f.cleanup();
    });
  });
}

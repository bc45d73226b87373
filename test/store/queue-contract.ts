/**
 * The outbound queue contract suite (src/store/types.ts, "The outbound queue"): every store backend
 * runs it through `runQueueContract(name, factory)` with the same factory as the Store contract.
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { type QueueEntryInput, type Store, StoreError, type User } from '../../src/store/index.js';
import type { StoreFixture } from './contract.js';

const isStoreError = (code: string) => (err: unknown) => {
  assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return true;
};

const DAY = 86_400_000;

function entry(rcpts: string[], extra: Partial<QueueEntryInput> = {}): QueueEntryInput {
  return {
    mailFrom: 'kihyun@uu.ac.kr',
    recipients: rcpts.map((address) => ({ address })),
    expiresAt: new Date(Date.now() + 5 * DAY),
    ...extra,
  };
}

async function commit(store: Store, bytes: string, queue: QueueEntryInput[], targets: User[] = []) {
  const d = await store.openDelivery({
    targets: targets.map((u) => ({ userId: u.id })),
    envelope: { mailFrom: 'kihyun@uu.ac.kr', rcptTo: ['x@remote.example'], mailParams: { RET: 'HDRS' } },
    queue,
  });
  await d.write(Buffer.from(bytes));
  return d.commit();
}

async function readAll(it: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString();
}

export function runQueueContract(name: string, factory: () => Promise<StoreFixture>): void {
  const withStore =
    (fn: (f: StoreFixture, users: User[], t: TestContext) => Promise<void>) => async (t: TestContext) => {
      const f = await factory();
      try {
        await f.store.domains.add('uu.ac.kr');
        const users = [await f.store.users.add({ address: 'kihyun@uu.ac.kr', passwordHash: 'scrypt$x' })];
        await fn(f, users, t);
      } finally {
        await f.store.close();
        await f.cleanup();
      }
    };

  describe(`Queue contract: ${name}`, () => {
    test(
      'a delivery puts local and remote recipients in one commit, bytes stored once',
      withStore(async ({ store, inspect }, [kihyun]) => {
        const before = await inspect.blobCount();
        const r = await commit(
          store,
          'Subject: hi\r\n\r\nbody\r\n',
          [
            entry(['a@remote.example', 'b@remote.example'], {
              ret: 'HDRS',
              envid: 'ENV1',
              body8bit: true,
              nextAttemptAt: new Date(Date.now() - 1000),
            }),
            entry(['fwd@other.example'], { mailFrom: 'SRS0=x=y=uu.ac.kr=k@uu.ac.kr' }),
          ],
          [kihyun!],
        );
        assert.equal(r.messages.length, 1);
        assert.equal(r.queued?.length, 2);
        assert.equal((await inspect.blobCount()) - before, 1);
        const list = await store.queue.list();
        assert.equal(list.length, 2);
        const e = await store.queue.get(r.queued![0]!);
        assert.ok(e);
        assert.equal(e.mailFrom, 'kihyun@uu.ac.kr');
        assert.equal(e.ret, 'HDRS');
        assert.equal(e.envid, 'ENV1');
        assert.equal(e.body8bit, true);
        assert.equal(e.smtputf8, false);
        assert.equal(e.size, 21);
        assert.equal(e.envelope.mailParams?.RET, 'HDRS');
        assert.deepEqual(
          e.recipients.map((x) => [x.index, x.address, x.state, x.attempts]),
          [
            [0, 'a@remote.example', 'pending', 0],
            [1, 'b@remote.example', 'pending', 0],
          ],
        );
        assert.equal(await readAll(store.queue.read(r.queued![0]!)), 'Subject: hi\r\n\r\nbody\r\n');
        assert.deepEqual(await store.queue.count(), { entries: 2, pendingRecipients: 3 });
        // Expunging the mailbox copy keeps the bytes the queue still needs.
        const inbox = (await store.mailboxes.get(kihyun!.id, 'INBOX'))!;
        await store.messages.expunge(inbox.id, [r.messages[0]!.id]);
        assert.equal(await readAll(store.queue.read(r.queued![1]!)), 'Subject: hi\r\n\r\nbody\r\n');
        await store.queue.remove(r.queued![0]!);
        await store.queue.remove(r.queued![1]!);
        assert.equal(await inspect.blobCount(), before);
        await assert.rejects(store.queue.remove(r.queued![1]!), isStoreError('not-found'));
      }),
    );

    test(
      'queue-only deliveries are allowed; an empty delivery is not; bad input is refused',
      withStore(async ({ store }) => {
        const r = await commit(store, 'x\r\n', [entry(['a@remote.example'])]);
        assert.equal(r.messages.length, 0);
        assert.equal(r.queued?.length, 1);
        await assert.rejects(
          store.openDelivery({ targets: [], envelope: { mailFrom: '', rcptTo: [] } }),
          isStoreError('invalid'),
        );
        await assert.rejects(
          store.openDelivery({ targets: [], envelope: { mailFrom: '', rcptTo: [] }, queue: [entry([])] }),
          isStoreError('invalid'),
        );
        await assert.rejects(
          store.openDelivery({
            targets: [],
            envelope: { mailFrom: '', rcptTo: [] },
            queue: [entry(['no-at-sign'])],
          }),
          isStoreError('invalid'),
        );
      }),
    );

    test(
      'claim leases due entries once; an expired lease is claimed again; stale tokens get conflict',
      withStore(async ({ store }) => {
        const now = Date.now();
        const due = await commit(store, 'due\r\n', [
          entry(['a@r.example'], { nextAttemptAt: new Date(now - 10) }),
        ]);
        await commit(store, 'later\r\n', [entry(['b@r.example'], { nextAttemptAt: new Date(now + 60_000) })]);
        const [c1, ...rest] = await store.queue.claim({ owner: 'node1', limit: 10, leaseMs: 200 });
        assert.equal(rest.length, 0);
        assert.equal(c1!.entry.id, due.queued![0]);
        assert.equal(c1!.entry.leaseOwner, 'node1');
        // Several claimers at once: nobody else gets the leased entry.
        const others = await Promise.all(
          [1, 2, 3].map((i) => store.queue.claim({ owner: `n${i}`, limit: 10, leaseMs: 200 })),
        );
        assert.deepEqual(others.flat(), []);
        await store.queue.renew(c1!.entry.id, c1!.token, 200);
        await new Promise((r) => setTimeout(r, 250));
        const [c2] = await store.queue.claim({ owner: 'node2', limit: 10, leaseMs: 600_000 });
        assert.equal(c2?.entry.id, c1!.entry.id);
        assert.notEqual(c2!.token, c1!.token);
        await assert.rejects(
          store.queue.update(c1!.entry.id, c1!.token, [{ index: 0, state: 'delivered' }]),
          isStoreError('conflict'),
        );
        await assert.rejects(store.queue.renew(c1!.entry.id, c1!.token, 1000), isStoreError('conflict'));
        // The stale holder changed nothing.
        assert.equal((await store.queue.get(c1!.entry.id))!.recipients[0]!.state, 'pending');
        // A far-future claim time sees the later entry too, but not the leased one.
        const future = await store.queue.claim({
          owner: 'n',
          limit: 10,
          leaseMs: 1000,
          now: new Date(now + 120_000),
        });
        assert.equal(future.length, 1);
        assert.equal(future[0]!.entry.recipients[0]!.address, 'b@r.example');
        await store.queue.release(future[0]!.entry.id, future[0]!.token);
        assert.equal((await store.queue.get(future[0]!.entry.id))!.leaseOwner, undefined);
      }),
    );

    test(
      'per-recipient updates: deferred, delivered, failed; the entry goes when all are final',
      withStore(async ({ store, inspect }) => {
        const before = await inspect.blobCount();
        const r = await commit(store, 'm\r\n', [
          entry(['a@r.example', 'b@r.example', 'c@r.example'], { nextAttemptAt: new Date(Date.now() - 1) }),
        ]);
        const id = r.queued![0]!;
        let [c] = await store.queue.claim({ owner: 'n', limit: 1, leaseMs: 10_000 });
        const retryAt = new Date(Date.now() + 60_000);
        await store.queue.update(id, c!.token, [
          {
            index: 0,
            state: 'delivered',
            result: {
              status: '2.0.0',
              diagnostic: '250 ok',
              diagnosticType: 'smtp',
              remoteMta: 'mx.r.example',
            },
          },
          {
            index: 1,
            state: 'failed',
            result: { status: '5.1.1', diagnostic: '550 5.1.1 no such user', diagnosticType: 'smtp' },
          },
          {
            index: 2,
            state: 'pending',
            nextAttemptAt: retryAt,
            result: { status: '4.4.1', diagnostic: 'connection refused' },
          },
        ]);
        let e = (await store.queue.get(id))!;
        assert.deepEqual(
          e.recipients.map((x) => x.state),
          ['delivered', 'failed', 'pending'],
        );
        assert.deepEqual(
          e.recipients.map((x) => x.attempts),
          [1, 1, 1],
        );
        assert.equal(e.recipients[0]!.last?.remoteMta, 'mx.r.example');
        assert.equal(e.recipients[1]!.last?.diagnostic, '550 5.1.1 no such user');
        assert.ok(e.recipients[2]!.lastAttemptAt instanceof Date);
        assert.equal(e.nextAttemptAt.getTime(), retryAt.getTime());
        assert.equal(e.leaseOwner, undefined);
        assert.deepEqual(await store.queue.claim({ owner: 'n', limit: 1, leaseMs: 1000 }), []);
        assert.deepEqual(await store.queue.count(), { entries: 1, pendingRecipients: 1 });
        // retry makes it due now; a final state never changes back.
        assert.equal(await store.queue.retry(id), 1);
        [c] = await store.queue.claim({ owner: 'n', limit: 1, leaseMs: 10_000 });
        assert.equal(c?.entry.id, id);
        await store.queue.update(id, c!.token, [{ index: 0, state: 'pending' }], { keepLease: true });
        e = (await store.queue.get(id))!;
        assert.equal(e.recipients[0]!.state, 'delivered');
        assert.equal(e.leaseOwner, 'n');
        await store.queue.update(id, c!.token, [{ index: 2, state: 'delivered' }]);
        assert.equal(await store.queue.get(id), undefined);
        assert.equal(await inspect.blobCount(), before);
        await assert.rejects(store.queue.retry('424242'), isStoreError('not-found'));
        assert.equal(await store.queue.get('not-an-id'), undefined);
      }),
    );

    test(
      'retry() without an id makes every pending entry due',
      withStore(async ({ store }) => {
        const later = new Date(Date.now() + 3_600_000);
        await commit(store, '1\r\n', [entry(['a@r.example'], { nextAttemptAt: later })]);
        await commit(store, '2\r\n', [entry(['b@r.example'], { nextAttemptAt: later })]);
        assert.deepEqual(await store.queue.claim({ owner: 'n', limit: 10, leaseMs: 1000 }), []);
        assert.equal(await store.queue.retry(), 2);
        assert.equal((await store.queue.claim({ owner: 'n', limit: 10, leaseMs: 1000 })).length, 2);
      }),
    );
  });
}

/** Per-user forwarding (User.forward), part of schema step 2 with the queue. */
export function runForwardContract(name: string, factory: () => Promise<StoreFixture>): void {
  test(`Forward contract: ${name}: set, read back with the user, clear`, async () => {
    const f = await factory();
    try {
      await f.store.domains.add('uu.ac.kr');
      await f.store.users.add({ address: 'kihyun@uu.ac.kr', passwordHash: 'h' });
      assert.equal((await f.store.users.get('kihyun@uu.ac.kr'))!.forward, undefined);
      await f.store.users.setForward('KIHYUN@uu.ac.kr', {
        targets: ['k@gmail.example', 'K@GMAIL.example'],
        keep: true,
      });
      const u = (await f.store.users.get('kihyun@uu.ac.kr'))!;
      assert.deepEqual(u.forward, { targets: ['k@gmail.example'], keep: true });
      assert.deepEqual((await f.store.users.getById(u.id))!.forward, u.forward);
      await assert.rejects(
        f.store.users.setForward('nobody@uu.ac.kr', { targets: ['a@b.example'], keep: false }),
        isStoreError('not-found'),
      );
      await assert.rejects(
        f.store.users.setForward('kihyun@uu.ac.kr', { targets: [], keep: false }),
        isStoreError('invalid'),
      );
      await f.store.users.setForward('kihyun@uu.ac.kr', undefined);
      assert.equal((await f.store.users.get('kihyun@uu.ac.kr'))!.forward, undefined);
    } finally {
      await f.store.close();
      await f.cleanup();
    }
  });
}

/**
 * The contract of the vacation and sent-status repositories (src/store/types.ts): every store
 * backend runs it through `runFeaturesContract(name, factory)` with the same factory as the Store
 * contract. Checks limits, the once-per-period reply claim (also under concurrent claims, as two
 * nodes would make them), and that the rows go with their user or message.
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { type SentLink, type Store, StoreError, type User } from '../../src/store/index.js';
import { MAX_VACATION_TEXT_BYTES, OUTCOME_KEEP_MS } from '../../src/store/vacation-rules.js';
import type { StoreFixture } from './contract.js';

const isStoreError = (code: string) => (err: unknown) => {
  assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return true;
};

const DAY = 86_400_000;
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const on = { enabled: true, subject: '', text: '휴가 중입니다. Back on Monday.', intervalDays: 7 };

async function sentCopy(store: Store, user: User, text: string): Promise<string> {
  const d = await store.openDelivery({
    targets: [{ userId: user.id, mailbox: 'Sent', flags: ['\\Seen'] }],
    envelope: { mailFrom: user.address, rcptTo: [] },
  });
  await d.write(Buffer.from(`Subject: ${text}\r\n\r\n${text}\r\n`));
  return (await d.commit()).messages[0]!.id;
}

export function runFeaturesContract(name: string, factory: () => Promise<StoreFixture>): void {
  const withStore =
    (fn: (f: StoreFixture, users: User[], t: TestContext) => Promise<void>) => async (t: TestContext) => {
      const f = await factory();
      try {
        await f.store.domains.add('uu.ac.kr');
        const users: User[] = [];
        for (const l of ['kihyun', 'minji', 'jisoo'])
          users.push(await f.store.users.add({ address: `${l}@uu.ac.kr`, passwordHash: 'scrypt$x' }));
        await fn(f, users, t);
      } finally {
        await f.store.close();
        await f.cleanup();
      }
    };

  describe(`Vacation and sent-status contract: ${name}`, () => {
    test(
      'vacation settings: saved per user, limits refused, only enabled ones are active',
      withStore(async ({ store }, [kihyun, minji, jisoo]) => {
        assert.equal(await store.vacation.get(kihyun!.id), undefined);
        const saved = await store.vacation.set(kihyun!.id, on);
        assert.ok(saved.updatedAt instanceof Date);
        const got = await store.vacation.get(kihyun!.id);
        assert.deepEqual({ ...got, updatedAt: undefined }, { ...on, updatedAt: undefined });
        await store.vacation.set(minji!.id, { ...on, enabled: false, subject: 'Away', intervalDays: 365 });
        assert.equal((await store.vacation.get(minji!.id))?.subject, 'Away');
        const active = await store.vacation.active([kihyun!.id, minji!.id, jisoo!.id, 999_999]);
        assert.deepEqual([...active.keys()], [kihyun!.id]);
        assert.equal(active.get(kihyun!.id)?.text, on.text);
        assert.equal((await store.vacation.active([])).size, 0);

        const bad = [
          { ...on, intervalDays: 0 },
          { ...on, intervalDays: 366 },
          { ...on, intervalDays: 1.5 },
          { ...on, text: 'x'.repeat(MAX_VACATION_TEXT_BYTES + 1) },
          { ...on, text: '가'.repeat(MAX_VACATION_TEXT_BYTES / 3 + 1) }, // within chars, over in bytes
          { ...on, text: '   ' },
          { ...on, subject: 'two\r\nlines' },
        ];
        for (const b of bad) await assert.rejects(store.vacation.set(kihyun!.id, b), isStoreError('invalid'));
        await assert.rejects(store.vacation.set(999_999, on), isStoreError('not-found'));
        // A disabled reply may keep an empty text; the maximum text is taken.
        await store.vacation.set(jisoo!.id, { ...on, enabled: false, text: '' });
        await store.vacation.set(jisoo!.id, { ...on, text: 'x'.repeat(MAX_VACATION_TEXT_BYTES) });
        assert.equal((await store.vacation.get(jisoo!.id))?.text.length, MAX_VACATION_TEXT_BYTES);
        assert.deepEqual(
          (await store.vacation.get(kihyun!.id))?.text,
          on.text,
          'refused sets changed nothing',
        );
      }),
    );

    test(
      'reply claims: once per sender per period, case-insensitive, reset by new settings',
      withStore(async ({ store }, [kihyun, minji]) => {
        await store.vacation.set(kihyun!.id, on);
        const t0 = new Date('2026-03-01T00:00:00Z');
        const week = 7 * DAY;
        assert.equal(await store.vacation.claimReply(kihyun!.id, 'bob@remote.example', t0, week), true);
        const later = new Date(t0.getTime() + week - 1);
        assert.equal(await store.vacation.claimReply(kihyun!.id, 'BOB@Remote.Example', later, week), false);
        assert.equal(await store.vacation.claimReply(kihyun!.id, 'amy@remote.example', later, week), true);
        assert.equal(
          await store.vacation.claimReply(minji!.id, 'bob@remote.example', later, week),
          true,
          'per user',
        );
        const after = new Date(t0.getTime() + week);
        assert.equal(await store.vacation.claimReply(kihyun!.id, 'bob@remote.example', after, week), true);
        assert.equal(await store.vacation.claimReply(kihyun!.id, 'bob@remote.example', after, week), false);
        // New settings: everyone gets the new text once.
        await store.vacation.set(kihyun!.id, { ...on, text: 'new text' });
        assert.equal(await store.vacation.claimReply(kihyun!.id, 'bob@remote.example', after, week), true);

        await assert.rejects(store.vacation.claimReply(kihyun!.id, '', after, week), isStoreError('invalid'));
        await assert.rejects(
          store.vacation.claimReply(kihyun!.id, 'a\r\n@b', after, week),
          isStoreError('invalid'),
        );
        await assert.rejects(
          store.vacation.claimReply(999_999, 'bob@remote.example', after, week),
          isStoreError('not-found'),
        );
      }),
    );

    test(
      'concurrent claims for one sender: exactly one wins',
      withStore(async ({ store }, [kihyun]) => {
        await store.vacation.set(kihyun!.id, on);
        const now = new Date();
        const wins = await Promise.all(
          Array.from({ length: 12 }, () =>
            store.vacation.claimReply(kihyun!.id, 'race@remote.example', now, DAY),
          ),
        );
        assert.equal(wins.filter(Boolean).length, 1);
      }),
    );

    test(
      'vacation rows go with their user: a new user never inherits them',
      withStore(async ({ store }, [, , jisoo]) => {
        await store.vacation.set(jisoo!.id, on);
        await store.vacation.claimReply(jisoo!.id, 'bob@remote.example', new Date(), DAY);
        await store.users.remove(jisoo!.address);
        assert.equal(await store.vacation.get(jisoo!.id), undefined);
        // SQLite may hand the removed user's id to the next user.
        const again = await store.users.add({ address: 'jisoo@uu.ac.kr', passwordHash: 'scrypt$y' });
        assert.equal(await store.vacation.get(again.id), undefined);
        assert.equal((await store.vacation.active([again.id])).size, 0);
        await store.vacation.set(again.id, on);
        assert.equal(await store.vacation.claimReply(again.id, 'bob@remote.example', new Date(), DAY), true);
      }),
    );

    test(
      'sent links: kept with the message, replaced, refused when malformed, gone with the message',
      withStore(async ({ store }, [kihyun]) => {
        const id = await sentCopy(store, kihyun!, 'hello');
        const link: SentLink = {
          sha256: SHA_A,
          recipients: [
            { address: 'minji@uu.ac.kr', local: true, queued: [] },
            {
              address: 'team@uu.ac.kr',
              local: true,
              queued: [
                { queueId: '7', index: 0, address: 'a@remote.example' },
                { queueId: '8', index: 2, address: 'b@remote.example' },
              ],
            },
            {
              address: 'Bob@Remote.Example',
              local: false,
              queued: [{ queueId: '7', index: 1, address: 'Bob@Remote.Example' }],
            },
          ],
        };
        assert.equal(await store.sent.get(id), undefined);
        await store.sent.link(id, link);
        assert.deepEqual(await store.sent.get(id), link);
        const other = {
          sha256: SHA_B,
          recipients: [{ address: 'x@remote.example', local: false, queued: [] }],
        };
        await store.sent.link(id, other);
        assert.deepEqual(await store.sent.get(id), other);

        await assert.rejects(store.sent.link(id, { ...link, sha256: 'nope' }), isStoreError('invalid'));
        await assert.rejects(
          store.sent.link(id, {
            sha256: SHA_A,
            recipients: [
              { address: 'a@b', local: false, queued: [{ queueId: 'x', index: 0, address: 'a@b' }] },
            ],
          }),
          isStoreError('invalid'),
        );
        await assert.rejects(
          store.sent.link(id, {
            sha256: SHA_A,
            recipients: Array.from({ length: 1001 }, () => ({ address: 'a@b', local: true, queued: [] })),
          }),
          isStoreError('invalid'),
        );
        await assert.rejects(store.sent.link('999999', link), isStoreError('not-found'));
        assert.equal(await store.sent.get('999999'), undefined);
        assert.equal(await store.sent.get('not-an-id'), undefined);

        const box = (await store.mailboxes.get(kihyun!.id, 'Sent'))!;
        await store.messages.expunge(box.id, [id]);
        assert.equal(await store.sent.get(id), undefined);
        const next = await sentCopy(store, kihyun!, 'next');
        assert.equal(await store.sent.get(next), undefined, 'a reused message id has no old link');
      }),
    );

    test(
      'queue outcomes: kept per entry and hash, replaced, forgotten after OUTCOME_KEEP_MS',
      withStore(async ({ store }) => {
        const at = new Date('2026-03-01T00:00:00Z');
        await store.sent.record(
          [
            {
              queueId: '5',
              sha256: SHA_A,
              index: 1,
              address: 'b@remote.example',
              state: 'failed',
              result: {
                status: '5.1.1',
                diagnostic: '550 5.1.1 <b@remote.example>: no such user',
                diagnosticType: 'smtp',
                remoteMta: 'mx.remote.example',
              },
              at,
            },
            { queueId: '5', sha256: SHA_A, index: 0, address: 'a@remote.example', state: 'delivered', at },
          ],
          at,
        );
        const got = await store.sent.outcomes('5', SHA_A);
        assert.deepEqual(
          got.map((o) => [o.index, o.address, o.state, o.result?.diagnostic, o.at.getTime()]),
          [
            [0, 'a@remote.example', 'delivered', undefined, at.getTime()],
            [1, 'b@remote.example', 'failed', '550 5.1.1 <b@remote.example>: no such user', at.getTime()],
          ],
        );
        assert.equal(got[1]!.result?.remoteMta, 'mx.remote.example');
        assert.deepEqual(await store.sent.outcomes('5', SHA_B), [], 'a reused queue id is another entry');
        assert.deepEqual(await store.sent.outcomes('6', SHA_A), []);
        assert.deepEqual(await store.sent.outcomes('bad', SHA_A), []);

        const later = new Date(at.getTime() + 1000);
        await store.sent.record(
          [
            {
              queueId: '5',
              sha256: SHA_A,
              index: 0,
              address: 'a@remote.example',
              state: 'failed',
              at: later,
            },
          ],
          later,
        );
        assert.equal((await store.sent.outcomes('5', SHA_A))[0]!.state, 'failed');
        await assert.rejects(
          store.sent.record([
            { queueId: '5', sha256: SHA_A, index: -1, address: 'a@b', state: 'delivered', at },
          ]),
          isStoreError('invalid'),
        );
        await assert.rejects(
          store.sent.record([
            // A state outside the type, as bad input would bring it.
            { queueId: '5', sha256: SHA_A, index: 0, address: 'a@b', state: 'pending' as 'failed', at },
          ]),
          isStoreError('invalid'),
        );
        // Recording later forgets what is older than the keeping time.
        const far = new Date(at.getTime() + OUTCOME_KEEP_MS + 2000);
        await store.sent.record([], far);
        assert.deepEqual(await store.sent.outcomes('5', SHA_A), []);
      }),
    );
  });
}

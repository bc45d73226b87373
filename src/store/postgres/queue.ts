/**
 * The outbound queue in PostgreSQL (contract in ../types.ts), shared by every node. Same layout as
 * the SQLite store's (`queue` one row per entry pointing at the delivery's blob, `queue_recipients`
 * one row per recipient); the entry's `next_attempt_at` is the earliest over its pending
 * recipients, kept in step by every write, so `claim` is one index range scan.
 *
 * Claiming: one statement picks due, unleased (or lease-expired) entries with
 * `SELECT … FOR UPDATE SKIP LOCKED` and stamps them with a fresh token and `lease_until`, so
 * several nodes claiming at once never get the same entry and never wait on each other; a node
 * that dies simply stops renewing and its entries are claimed again once the lease runs out
 * (at-least-once). `update`, `renew` and `release` check the token under a row lock. Lease times
 * are the callers' clocks in ms (as in SQLite, so `claim({ now })` works): nodes must keep their
 * clocks in step (NTP) to well under the lease length.
 */
import type { Pool, PoolClient } from 'pg';
import { applyUpdates, nextDue } from '../memory/queue-rules.js';
import {
  parseQueueId,
  QUEUE_ENTRY_COLS,
  type RecipientRow as SharedRecipientRow,
  toRecipient,
} from '../rows.js';
import {
  type QueueClaim,
  type QueueEntry,
  type QueueRecipient,
  type QueueRepo,
  type StoredEnvelope,
  StoreError,
} from '../types.js';
import { mapError } from './errors.js';
import { transaction } from './pool.js';

interface EntryRow {
  id: number;
  blob_id: number;
  mail_from: string;
  ret: string | null;
  envid: string | null;
  body8bit: boolean;
  smtputf8: boolean;
  created_at: number;
  expires_at: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_token: string | null;
  lease_until: number | null;
  size: number;
  sha256: string;
  envelope: StoredEnvelope | null;
}
interface RecipientRow extends SharedRecipientRow<NonNullable<QueueRecipient['last']>> {
  queue_id: number;
}

const fromRow = (r: RecipientRow): QueueRecipient => toRecipient(r, (last) => last);

function toEntry(r: EntryRow, recipients: QueueRecipient[]): QueueEntry {
  const e: QueueEntry = {
    id: String(r.id),
    mailFrom: r.mail_from,
    body8bit: r.body8bit,
    smtputf8: r.smtputf8,
    createdAt: new Date(r.created_at),
    expiresAt: new Date(r.expires_at),
    nextAttemptAt: new Date(r.next_attempt_at),
    size: r.size,
    sha256: r.sha256,
    envelope: r.envelope ?? { mailFrom: r.mail_from, rcptTo: [] },
    recipients,
  };
  if (r.ret !== null) e.ret = r.ret as 'FULL' | 'HDRS';
  if (r.envid !== null) e.envid = r.envid;
  if (r.lease_owner !== null) e.leaseOwner = r.lease_owner;
  if (r.lease_until !== null) e.leaseUntil = new Date(r.lease_until);
  return e;
}

type Queryable = Pool | PoolClient;

/** Loads entries with their recipients, in the order of `ids`, skipping vanished ones. */
async function loadEntries(db: Queryable, ids: number[]): Promise<QueueEntry[]> {
  if (ids.length === 0) return [];
  const [entries, rcpts] = await Promise.all([
    db.query<EntryRow>(
      `SELECT ${QUEUE_ENTRY_COLS} FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = ANY($1::bigint[])`,
      [ids],
    ),
    db.query<RecipientRow>(
      'SELECT * FROM queue_recipients WHERE queue_id = ANY($1::bigint[]) ORDER BY queue_id, idx',
      [ids],
    ),
  ]);
  const byEntry = new Map<number, QueueRecipient[]>();
  for (const r of rcpts.rows) {
    let list = byEntry.get(r.queue_id);
    if (!list) byEntry.set(r.queue_id, (list = []));
    list.push(fromRow(r));
  }
  const rows = new Map(entries.rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => {
    const r = rows.get(id);
    return r ? [toEntry(r, byEntry.get(id) ?? [])] : [];
  });
}

export interface QueueDeps {
  pool: Pool;
  live(): void;
  /** Streams a blob's bytes; `what` names it in errors. */
  readBlob(blobId: number, size: number, what: string): AsyncIterable<Uint8Array>;
  /** Deletes committed blobs no message or queue entry refers to; the caller locked them. */
  freeUnused(c: PoolClient, ids: number[]): Promise<unknown>;
}

export function createPostgresQueue(d: QueueDeps): QueueRepo {
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    d.live();
    try {
      return await fn();
    } catch (err) {
      throw mapError(err);
    }
  };
  const tx = <T>(fn: (c: PoolClient) => Promise<T>) => run(() => transaction(d.pool, fn));
  const noEntry = (id: string) => new StoreError('not-found', `no such queue entry: ${id}`);

  /** Locks the entry and checks the lease is still `token`'s; returns its numeric id. */
  const held = async (c: PoolClient, id: string, token: string): Promise<number> => {
    const n = parseQueueId(id);
    const r =
      n === undefined
        ? undefined
        : (
            await c.query<{ token: string | null; until: number | null }>(
              'SELECT lease_token AS token, lease_until AS until FROM queue WHERE id = $1 FOR UPDATE',
              [n],
            )
          ).rows[0];
    if (!r || n === undefined) throw noEntry(id);
    if (r.token !== token || r.until === null || r.until < Date.now())
      throw new StoreError('conflict', `the lease on queue entry ${id} is no longer held`);
    return n;
  };
  const removeRow = async (c: PoolClient, n: number) => {
    const r = await c.query<{ blob_id: number }>('DELETE FROM queue WHERE id = $1 RETURNING blob_id', [n]);
    const blob = r.rows[0]?.blob_id;
    if (blob === undefined) return;
    await c.query('SELECT id FROM blobs WHERE id = $1 FOR UPDATE', [blob]);
    await d.freeUnused(c, [blob]);
  };

  // biome-ignore lint/correctness/useYield: fails on first read, like a stream that cannot open
  async function* failing(err: Error): AsyncIterable<Uint8Array> {
    throw err;
  }
  async function* readEntry(id: string): AsyncIterable<Uint8Array> {
    const n = parseQueueId(id);
    const r =
      n === undefined
        ? undefined
        : (
            await run(() =>
              d.pool.query<{ blob_id: number; size: number }>(
                'SELECT q.blob_id, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = $1',
                [n],
              ),
            )
          ).rows[0];
    if (!r) throw noEntry(id);
    yield* d.readBlob(r.blob_id, r.size, `queue entry ${id}`);
  }

  return {
    claim: (o) =>
      run(async () => {
        const now = (o.now ?? new Date()).getTime();
        const r = await d.pool.query<{ id: number; token: string }>({
          name: 'pq-claim',
          text: `WITH due AS (
                   SELECT id FROM queue
                   WHERE next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1)
                   ORDER BY next_attempt_at, id LIMIT $2
                   FOR UPDATE SKIP LOCKED)
                 UPDATE queue q SET lease_owner = $3, lease_until = $1 + $4::bigint,
                   lease_token = replace(gen_random_uuid()::text, '-', '')
                 FROM due WHERE q.id = due.id
                 RETURNING q.id, q.lease_token AS token, q.next_attempt_at`,
          values: [now, o.limit, o.owner, Math.round(o.leaseMs)],
        });
        const rows = [...r.rows].sort((a, b) => a.id - b.id);
        const tokens = new Map(rows.map((x) => [x.id, x.token]));
        const entries = await loadEntries(
          d.pool,
          rows.map((x) => x.id),
        );
        entries.sort(
          (a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime() || Number(a.id) - Number(b.id),
        );
        return entries.map((entry): QueueClaim => ({ entry, token: tokens.get(Number(entry.id))! }));
      }),

    update: (id, token, updates, o) =>
      tx(async (c) => {
        const n = await held(c, id, token);
        const now = Date.now();
        const before = (
          await c.query<RecipientRow>('SELECT * FROM queue_recipients WHERE queue_id = $1 ORDER BY idx', [n])
        ).rows.map(fromRow);
        const after = applyUpdates(before, updates, new Date(now));
        await c.query(
          `UPDATE queue_recipients r SET state = t.state, attempts = t.attempts, next_attempt_at = t.next,
             last_attempt_at = t.last_at, last = t.last
           FROM unnest($2::int[], $3::text[], $4::int[], $5::bigint[], $6::bigint[], $7::jsonb[])
             AS t(idx, state, attempts, next, last_at, last)
           WHERE r.queue_id = $1 AND r.idx = t.idx`,
          [
            n,
            after.map((r) => r.index),
            after.map((r) => r.state),
            after.map((r) => r.attempts),
            after.map((r) => r.nextAttemptAt.getTime()),
            after.map((r) => r.lastAttemptAt?.getTime() ?? null),
            after.map((r) => (r.last ? JSON.stringify(r.last) : null)),
          ],
        );
        const next = nextDue(after);
        if (next === undefined) return removeRow(c, n);
        if (o?.keepLease)
          await c.query('UPDATE queue SET next_attempt_at = $2 WHERE id = $1', [n, next.getTime()]);
        else
          await c.query(
            `UPDATE queue SET next_attempt_at = $2, lease_owner = NULL, lease_token = NULL, lease_until = NULL
             WHERE id = $1`,
            [n, next.getTime()],
          );
      }),

    renew: (id, token, leaseMs) =>
      tx(async (c) => {
        const n = await held(c, id, token);
        await c.query('UPDATE queue SET lease_until = $2 WHERE id = $1', [
          n,
          Date.now() + Math.round(leaseMs),
        ]);
      }),

    release: (id, token) =>
      run(async () => {
        const n = parseQueueId(id);
        if (n === undefined) return;
        await d.pool.query(
          'UPDATE queue SET lease_owner = NULL, lease_token = NULL, lease_until = NULL WHERE id = $1 AND lease_token = $2',
          [n, token],
        );
      }),

    list: (o) =>
      run(async () => {
        const limit = o?.limit !== undefined && o.limit >= 0 ? o.limit : null;
        const r = await d.pool.query<{ id: number }>(
          'SELECT id FROM queue ORDER BY next_attempt_at, id LIMIT $1',
          [limit],
        );
        return loadEntries(
          d.pool,
          r.rows.map((x) => x.id),
        );
      }),

    get: (id) =>
      run(async () => {
        const n = parseQueueId(id);
        if (n === undefined) return undefined;
        return (await loadEntries(d.pool, [n]))[0];
      }),

    read: (id) => {
      d.live();
      if (parseQueueId(id) === undefined) return failing(noEntry(id));
      return readEntry(id);
    },

    retry: (id, now) =>
      tx(async (c) => {
        const t = (now ?? new Date()).getTime();
        if (id === undefined) {
          await c.query(
            `UPDATE queue_recipients SET next_attempt_at = $1 WHERE state = 'pending' AND next_attempt_at > $1`,
            [t],
          );
          const r = await c.query('UPDATE queue SET next_attempt_at = $1 WHERE next_attempt_at > $1', [t]);
          return r.rowCount ?? 0;
        }
        const n = parseQueueId(id);
        if (
          n === undefined ||
          (await c.query('SELECT 1 FROM queue WHERE id = $1 FOR UPDATE', [n])).rowCount === 0
        )
          throw noEntry(id);
        const r = await c.query(
          `UPDATE queue_recipients SET next_attempt_at = $1 WHERE queue_id = $2 AND state = 'pending' AND next_attempt_at > $1`,
          [t, n],
        );
        if ((r.rowCount ?? 0) === 0) return 0;
        await c.query('UPDATE queue SET next_attempt_at = $1 WHERE id = $2', [t, n]);
        return 1;
      }),

    remove: (id) =>
      tx(async (c) => {
        const n = parseQueueId(id);
        if (
          n === undefined ||
          (await c.query('SELECT 1 FROM queue WHERE id = $1 FOR UPDATE', [n])).rowCount === 0
        )
          throw noEntry(id);
        await removeRow(c, n);
      }),

    count: () =>
      run(async () => {
        const r = await d.pool.query<{ entries: number; pending: number }>(
          `SELECT (SELECT count(*) FROM queue) AS entries,
                  (SELECT count(*) FROM queue_recipients WHERE state = 'pending') AS pending`,
        );
        return { entries: r.rows[0]!.entries, pendingRecipients: r.rows[0]!.pending };
      }),
  };
}

/**
 * Group commit for the PostgreSQL store. A delivery's `commit()` queues a request; up to
 * `concurrency` batches run at once, and each takes everything that queued while the earlier
 * ones were running (up to `maxBatch` requests or `maxBatchBytes` of tail bytes), so 20 concurrent
 * SMTP sessions cost a handful of commits and WAL flushes instead of 20. A batch is one call of
 * the server-side function `posthorn_commit_batch` (commit-function.ts: the lock order, UID
 * allocation and per-delivery failures are described there): one round trip, one transaction,
 * whatever the batch size.
 *
 * Failures: a delivery the function refuses (unknown user, lease lost) fails alone. A deadlock or
 * serialization failure reruns the batch (3 times); a connection failure fails every request of
 * the batch with StoreError('unavailable') (the statement did not commit, or, if the connection
 * died during the commit itself, may have: the client retries and the message may be delivered
 * twice — at least once, never lost). Any other failure reruns the requests one by one, so one
 * bad request cannot fail the others.
 */
import type { Pool, PoolClient } from 'pg';
import type { QueueEntryInput, StoredEnvelope, StoreErrorCode } from '../types.js';
import { StoreError } from '../types.js';
import { isRetryable, isUnavailable, mapError } from './errors.js';
import { withClient } from './pool.js';

export interface CommitTarget {
  userId: number;
  mailbox: string;
  /** Space-separated, sorted. */
  flags: string;
}

export interface CommittedEntry {
  id: number;
  mailboxId: number;
  uid: number;
}

export interface CommitRequest {
  /** A state-0 blob written earlier (deliveries larger than one chunk), or null. */
  pendingBlobId: number | null;
  /** The bytes not yet stored, at `tailSeq`. */
  tail: Buffer | null;
  tailSeq: number;
  size: number;
  sha256: string;
  envelope: StoredEnvelope;
  receivedAt: number;
  targets: CommitTarget[];
  /** Outbound queue entries sharing the bytes (validated). */
  queue: QueueEntryInput[];
}

export interface CommitOutcome {
  entries: CommittedEntry[];
  /** Queue entry ids, same order as the request's `queue`. */
  queued: string[];
}

interface Queued {
  req: CommitRequest;
  resolve(r: CommitOutcome): void;
  reject(err: unknown): void;
}

export interface CommitterOptions {
  /** Batches running at once (default 2). */
  concurrency: number;
  /** Requests per batch (default 256). */
  maxBatch: number;
  /** Tail bytes per batch (default 8 MiB). */
  maxBatchBytes: number;
  /** Requests waiting before a batch starts beside one already running (default 8). */
  minParallelBatch: number;
  /** Owner token of this store's pending blobs. */
  owner: string;
}

const RETRIES = 3;

export class Committer {
  private readonly queue: Queued[] = [];
  private running = 0;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly pool: Pool,
    private readonly opts: CommitterOptions,
  ) {}

  submit(req: CommitRequest): Promise<CommitOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      this.kick();
    });
  }

  /** Resolves once nothing is queued or running. */
  drain(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private kick() {
    // A further batch runs beside one in flight only when enough has queued: small batches side
    // by side cost CPU per message (in PostgreSQL and here) that one bigger batch does not.
    while (
      this.queue.length > 0 &&
      (this.running === 0 ||
        (this.running < this.opts.concurrency && this.queue.length >= this.opts.minParallelBatch))
    ) {
      const batch: Queued[] = [];
      let bytes = 0;
      while (this.queue.length > 0 && batch.length < this.opts.maxBatch) {
        const next = this.queue[0]!;
        const n = next.req.tail?.length ?? 0;
        if (batch.length > 0 && bytes + n > this.opts.maxBatchBytes) break;
        bytes += n;
        batch.push(this.queue.shift()!);
      }
      this.running++;
      this.runBatch(batch).finally(() => {
        this.running--;
        this.kick();
        if (this.running === 0 && this.queue.length === 0) for (const r of this.idle.splice(0)) r();
      });
    }
  }

  private async runBatch(batch: Queued[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const results = await withClient(this.pool, (c) => this.apply(c, batch));
        for (const [q, r] of results) {
          if (r instanceof Error) q.reject(r);
          else q.resolve(r);
        }
        return;
      } catch (err) {
        if (isRetryable(err) && attempt < RETRIES) continue;
        if (isUnavailable(err) || batch.length === 1) {
          for (const q of batch) q.reject(mapError(err));
          return;
        }
        // Isolate the culprit: each request alone, so the others still commit.
        await Promise.all(batch.map((q) => this.runBatch([q])));
        return;
      }
    }
  }

  /** One call of posthorn_commit_batch; returns each request's outcome or its own error. */
  private async apply(c: PoolClient, batch: Queued[]): Promise<[Queued, CommitOutcome | Error][]> {
    const d = {
      pending: [] as (number | null)[],
      size: [] as number[],
      sha: [] as string[],
      env: [] as string[],
    };
    const received: number[] = [];
    const tail: (Buffer | null)[] = [];
    const tailSeq: number[] = [];
    const t = { del: [] as number[], user: [] as number[], box: [] as string[], flags: [] as string[] };
    const q = {
      del: [] as number[],
      from: [] as string[],
      ret: [] as (string | null)[],
      envid: [] as (string | null)[],
      b8: [] as boolean[],
      u8: [] as boolean[],
      expires: [] as number[],
      next: [] as number[],
    };
    const r = {
      q: [] as number[],
      idx: [] as number[],
      addr: [] as string[],
      orcpt: [] as (string | null)[],
    };
    const notify: (string | null)[] = [];
    batch.forEach(({ req }, i) => {
      d.pending.push(req.pendingBlobId);
      d.size.push(req.size);
      d.sha.push(req.sha256);
      d.env.push(JSON.stringify(req.envelope));
      received.push(req.receivedAt);
      tail.push(req.tail && req.tail.length > 0 ? req.tail : null);
      tailSeq.push(req.tailSeq);
      for (const x of req.targets) {
        t.del.push(i + 1);
        t.user.push(x.userId);
        t.box.push(x.mailbox);
        t.flags.push(x.flags);
      }
      for (const e of req.queue) {
        q.del.push(i + 1);
        q.from.push(e.mailFrom);
        q.ret.push(e.ret ?? null);
        q.envid.push(e.envid ?? null);
        q.b8.push(!!e.body8bit);
        q.u8.push(!!e.smtputf8);
        q.expires.push(e.expiresAt.getTime());
        q.next.push(e.nextAttemptAt?.getTime() ?? req.receivedAt);
        const entry = q.del.length;
        e.recipients.forEach((x, idx) => {
          r.q.push(entry);
          r.idx.push(idx);
          r.addr.push(x.address);
          r.orcpt.push(x.orcpt ?? null);
          notify.push(x.notify?.join(',') ?? null);
        });
      }
    });
    const res = await c.query<{
      o_kind: 'error' | 'message' | 'queue';
      o_del: number;
      o_item: number | null;
      o_id: number | null;
      o_box: number | null;
      o_uid: number | null;
      o_err: string | null;
    }>({
      name: 'pc-batch',
      text: `SELECT * FROM posthorn_commit_batch($1, $2, $3::bigint[], $4::bigint[], $5::text[], $6::jsonb[],
               $7::bigint[], $8::bytea[], $9::int[], $10::int[], $11::bigint[], $12::text[], $13::text[],
               $14::int[], $15::text[], $16::text[], $17::text[], $18::boolean[], $19::boolean[], $20::bigint[],
               $21::bigint[], $22::int[], $23::int[], $24::text[], $25::text[], $26::text[])`,
      values: [
        this.opts.owner,
        Math.floor(Date.now() / 1000),
        d.pending,
        d.size,
        d.sha,
        d.env,
        received,
        tail,
        tailSeq,
        t.del,
        t.user,
        t.box,
        t.flags,
        q.del,
        q.from,
        q.ret,
        q.envid,
        q.b8,
        q.u8,
        q.expires,
        q.next,
        r.q,
        r.idx,
        r.addr,
        r.orcpt,
        notify,
      ],
    });
    const outcomes: (CommitOutcome | Error)[] = batch.map(() => ({ entries: [], queued: [] }));
    // Rows come in target order and queue-entry order, which is each request's own order.
    for (const row of res.rows) {
      const i = row.o_del - 1;
      const o = outcomes[i]!;
      if (row.o_kind === 'error') {
        const [code, ...rest] = (row.o_err ?? 'invalid:').split(':');
        outcomes[i] = new StoreError(code as StoreErrorCode, rest.join(':').trim());
      } else if (o instanceof Error) continue;
      else if (row.o_kind === 'message')
        o.entries.push({ id: row.o_id!, mailboxId: row.o_box!, uid: row.o_uid! });
      else o.queued.push(String(row.o_id));
    }
    return batch.map((b, i) => [b, outcomes[i]!]);
  }
}

/**
 * Creates mailboxes (ignoring ones created meanwhile by another node) with UIDVALIDITY values
 * from the `counters` row: the creation second, but always above every earlier one, so that a
 * mailbox deleted and created again never repeats old (validity, uid) pairs. Runs inside the
 * caller's transaction, before any mailbox row lock is taken (see the lock order above).
 */
export async function createMailboxes(c: PoolClient, boxes: { userId: number; mailbox: string }[]) {
  const n = boxes.length;
  const r = await c.query<{ base: number }>({
    name: 'pc-validity',
    text: `UPDATE counters SET value = greatest(value + 1, $1::bigint) + $2::bigint - 1
           WHERE name = 'uid_validity' RETURNING value - $2::bigint + 1 AS base`,
    values: [Math.floor(Date.now() / 1000), n],
  });
  const base = r.rows[0]!.base;
  await c.query({
    name: 'pc-mbox-insert',
    text: `INSERT INTO mailboxes (user_id, name, uid_validity, uid_next)
           SELECT u, n, v, 1 FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS t(u, n, v)
           ON CONFLICT DO NOTHING`,
    values: [boxes.map((b) => b.userId), boxes.map((b) => b.mailbox), boxes.map((_, i) => base + i)],
  });
}

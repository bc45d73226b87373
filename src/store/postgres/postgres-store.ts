/**
 * The cluster Store: PostgreSQL through node-postgres, shared by any number of Posthorn nodes.
 * Same tables and semantics as the SQLite store (schema.ts); every node accepts mail, serves POP3
 * and reads and writes the same rows, so UIDs, flags and deletions look the same whichever node a
 * client reaches.
 *
 * Connections. Three pools per store: `main` (reads, admin writes, group-commit batches;
 * `poolMax`), `bulk` (chunk rows of large messages, `synchronous_commit = off`; `bulkPoolMax`) and
 * `locks` (one connection per open POP3 session, holding its maildrop lock; `lockPoolMax`), plus
 * one LISTEN connection for the account cache (account-cache.ts). Pools open connections only
 * when needed and close idle ones after 30 s. PostgreSQL's `max_connections` must cover, for every
 * node, poolMax + bulkPoolMax + lockPoolMax + 1, plus admin commands: with the defaults
 * (10 + 4 + 32 + 1) three nodes need 141, above PostgreSQL's default of 100; raise it or lower
 * `?pool_max=`/`?lock_max=`. When every lock connection is taken, the next POP3 login waits
 * `connectTimeoutMs` and then gets -ERR [SYS/TEMP].
 *
 * Maildrop lock: `pg_try_advisory_lock` on a connection checked out of the lock pool for the
 * session's lifetime. It is released by `release()`; it dies with the connection, so with the
 * node (its sockets close) or with a network partition (the server ends the session). It holds
 * across nodes: a second session anywhere gets undefined ([IN-USE]).
 *
 * Writes: group commit (committer.ts); bytes in chunk rows (delivery.ts). Pending blobs are
 * leased: the owning node renews `lease_at` every `leaseMs / 4`; any node deletes a pending blob
 * whose lease is older than `leaseMs` (at open and every `leaseMs / 2`): what a crashed node left
 * behind is reclaimed by the survivors. Expunge and user removal lock the blob rows they may free
 * (in id order) so that two nodes freeing the last two references to one blob agree.
 *
 * Faults: every failure to reach the database is StoreError('unavailable') (errors.ts); the pools
 * reconnect by themselves. Reads are single statements; a 25 MiB message is read one chunk row
 * per query, never whole.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pg, { type Pool, type PoolClient } from 'pg';
import { type Logger, silentLogger } from '../../core/index.js';
import { validateQueueInputs } from '../memory/queue-rules.js';
import { normalizeFlags, normalizeMailboxName } from '../names.js';
import type { Delivery, DeliveryOptions, MaildropLock, Store } from '../types.js';
import { StoreError } from '../types.js';
import { ACCOUNT_CHANNEL, AccountCache, DEFAULT_ACCOUNT_CACHE_TTL_MS } from './account-cache.js';
import { createAccountRepos } from './accounts.js';
import { Committer } from './committer.js';
import type { RepoContext } from './context.js';
import { PostgresDelivery } from './delivery.js';
import { isRetryable, isUnavailable, mapError } from './errors.js';
import { createFeatureRepos } from './features.js';
import { createMessageRepos } from './messages.js';
import { type Checkout, checkout, createPool, pgTypes, transaction, withClient } from './pool.js';
import { createPostgresQueue } from './queue.js';
import { migrate } from './schema.js';

/** Bytes per chunk row: a typical message (< 256 KiB) is one row. */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
export const DEFAULT_POOL_MAX = 10;
export const DEFAULT_BULK_POOL_MAX = 4;
/** Concurrent POP3 sessions per node (each holds one connection). */
export const DEFAULT_LOCK_POOL_MAX = 32;
/** Unacknowledged chunks per delivery before `write` waits (1 MiB in flight). */
export const DEFAULT_MAX_INFLIGHT_CHUNKS = 4;
export const DEFAULT_COMMIT_CONCURRENCY = 2;
export const DEFAULT_MAX_BATCH = 256;
export const DEFAULT_MAX_BATCH_BYTES = 8 * 1024 * 1024;
/** Requests queued before a second batch runs beside the first (committer.ts). */
export const DEFAULT_MIN_PARALLEL_BATCH = 8;
/** A pending blob whose lease is this old belongs to a dead node. */
export const DEFAULT_LEASE_MS = 10 * 60_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

export interface PostgresStoreOptions {
  logger?: Logger;
  poolMax?: number;
  bulkPoolMax?: number;
  lockPoolMax?: number;
  chunkSize?: number;
  maxInflightChunks?: number;
  commitConcurrency?: number;
  maxBatch?: number;
  maxBatchBytes?: number;
  minParallelBatch?: number;
  leaseMs?: number;
  connectTimeoutMs?: number;
  /** Age limit of cached account lookups (account-cache.ts); 0 turns the cache off. */
  accountCacheTtlMs?: number;
}

/** Advisory lock namespace of POP3 maildrops ('pop3'); the second half is the user id. */
const MAILDROP_LOCK_CLASS = 0x706f7033;
/** Namespace of admin writes (domains, users, aliases), serialized store-wide. */
const ADMIN_LOCK = [0x706f7374, 0x61646d] as const;

/**
 * Splits our own settings (`?pool_max=N&lock_max=N`) and the session `options` (which
 * node-postgres would let the URL override for every pool) off the URL node-postgres gets.
 */
export function parsePostgresUrl(url: string): {
  connectionString: string;
  options?: string;
  poolMax?: number;
  lockPoolMax?: number;
} {
  const u = new URL(url);
  const options = u.searchParams.get('options') ?? undefined;
  u.searchParams.delete('options');
  const take = (name: string) => {
    const v = u.searchParams.get(name);
    u.searchParams.delete(name);
    if (v === null) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 10_000)
      throw new StoreError('invalid', `bad ${name} in store URL: ${v}`);
    return n;
  };
  const poolMax = take('pool_max');
  const lockPoolMax = take('lock_max');
  return { connectionString: u.toString(), options, poolMax, lockPoolMax };
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://?';
  }
}

/** Opens (creating and migrating when needed) the PostgreSQL store at `url`. */
export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  const log = (opts.logger ?? silentLogger).child({ store: 'postgres' });
  const parsed = parsePostgresUrl(url);
  const where = redactUrl(url);
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 1024 || chunkSize > 64 * 1024 * 1024) {
    throw new StoreError('invalid', `chunk size out of range: ${chunkSize}`);
  }
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  const owner = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
  const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const onPoolError = (err: Error) => log.warn({ err: err.message }, 'PostgreSQL connection lost');
  const base = { connectionString: parsed.connectionString, connectTimeoutMs, onError: onPoolError };
  const main = createPool({
    ...base,
    options: parsed.options,
    max: opts.poolMax ?? parsed.poolMax ?? DEFAULT_POOL_MAX,
    applicationName: 'posthorn',
  });
  const bulk = createPool({
    ...base,
    max: opts.bulkPoolMax ?? DEFAULT_BULK_POOL_MAX,
    options: `${parsed.options ?? ''} -c synchronous_commit=off`.trim(),
    applicationName: 'posthorn-bulk',
  });
  const locks = createPool({
    ...base,
    options: parsed.options,
    max: opts.lockPoolMax ?? parsed.lockPoolMax ?? DEFAULT_LOCK_POOL_MAX,
    applicationName: 'posthorn-lock',
  });
  const endPools = () => Promise.allSettled([main.end(), bulk.end(), locks.end()]);

  const leased = new Set<number>();
  try {
    const steps = await withClient(main, (c) => migrate(c, where));
    if (steps > 0) log.info({ url: where, steps }, 'store migrated');
    const n = await reclaimExpired(main, leaseMs);
    if (n > 0) log.info({ blobs: n }, 'reclaimed bytes of unfinished deliveries');
  } catch (err) {
    await endPools();
    const e = mapError(err);
    if (e instanceof StoreError && e.code === 'unavailable')
      throw new StoreError('unavailable', `cannot open ${where}: ${(err as Error).message}`);
    throw e;
  }

  const ttl = opts.accountCacheTtlMs ?? DEFAULT_ACCOUNT_CACHE_TTL_MS;
  const cache = new AccountCache(
    () =>
      new pg.Client({
        connectionString: parsed.connectionString,
        options: parsed.options,
        connectionTimeoutMillis: connectTimeoutMs,
        application_name: 'posthorn-listen',
        types: pgTypes,
        keepAlive: true,
      }),
    ttl,
    (up, err) => {
      if (!up && !closed) log.warn({ err: err?.message }, 'account cache off: lost the LISTEN connection');
    },
  );
  if (ttl > 0) await cache.start();

  const committer = new Committer(main, {
    concurrency: opts.commitConcurrency ?? DEFAULT_COMMIT_CONCURRENCY,
    maxBatch: opts.maxBatch ?? DEFAULT_MAX_BATCH,
    maxBatchBytes: opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
    minParallelBatch: opts.minParallelBatch ?? DEFAULT_MIN_PARALLEL_BATCH,
    owner,
  });
  const deliveryCtx = {
    bulk,
    committer,
    owner,
    chunkSize,
    maxInflight: Math.max(1, opts.maxInflightChunks ?? DEFAULT_MAX_INFLIGHT_CHUNKS),
    leased,
  };
  const renew = setInterval(
    () => {
      if (leased.size === 0) return;
      main
        .query('UPDATE blobs SET lease_at = now() WHERE id = ANY($1::bigint[]) AND state = 0', [[...leased]])
        .catch((err) => log.warn({ err: (err as Error).message }, 'cannot renew blob leases'));
    },
    Math.max(1000, leaseMs / 4),
  );
  const reclaim = setInterval(
    () => {
      reclaimExpired(main, leaseMs)
        .then((n) => n > 0 && log.info({ blobs: n }, 'reclaimed bytes of unfinished deliveries'))
        .catch((err) => log.warn({ err: (err as Error).message }, 'cannot reclaim expired blobs'));
    },
    Math.max(1000, leaseMs / 2),
  );
  renew.unref();
  reclaim.unref();

  const deliveries = new Set<PostgresDelivery>();
  /** Held maildrop locks: their connection and how to give it back. */
  const heldLocks = new Map<PoolClient, (err?: Error) => void>();
  let closed = false;

  const live = () => {
    if (closed) throw new StoreError('unavailable', 'store is closed');
  };
  // Single statements (reads, and idempotent updates such as flags) are tried twice when the
  // connection fails: after a database restart the pool may still hold a dead idle connection
  // that it only notices when a query is sent over it.
  const q = async <R extends object>(text: string, values: unknown[] = [], name?: string): Promise<R[]> => {
    live();
    for (let attempt = 1; ; attempt++) {
      try {
        return (await main.query<R>({ text, values, name })).rows;
      } catch (err) {
        const waitedForPool = String((err as Error).message).includes('timeout exceeded');
        if (attempt === 1 && isUnavailable(err) && !isRetryable(err) && !waitedForPool && !closed) continue;
        throw mapError(err);
      }
    }
  };
  const tx = async <T>(fn: (c: PoolClient) => Promise<T>, admin = false): Promise<T> => {
    live();
    try {
      return await transaction(main, async (c) => {
        if (admin) await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...ADMIN_LOCK]);
        return fn(c);
      });
    } catch (err) {
      throw mapError(err);
    }
  };
  /** An account write: serialized store-wide, and every node's cache emptied once it commits. */
  const accountTx = async <T>(fn: (c: PoolClient) => Promise<T>): Promise<T> => {
    try {
      return await tx(async (c) => {
        const r = await fn(c);
        await c.query(`NOTIFY ${ACCOUNT_CHANNEL}`);
        return r;
      }, true);
    } finally {
      cache.invalidate();
    }
  };

  /** Deletes committed blobs in `ids` no message or queue entry refers to; the caller locked them. */
  const freeUnused = (c: PoolClient, ids: number[]) =>
    c.query(
      `DELETE FROM blobs b WHERE b.id = ANY($1::bigint[]) AND b.state = 1
       AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_id = b.id)
       AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = b.id)`,
      [ids],
    );
  const lockBlobs = (c: PoolClient, ids: number[]) =>
    c.query('SELECT id FROM blobs WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [ids]);

  /** Streams a blob row by row; `first` is chunk 0 when the caller already fetched it. */
  async function* readBlob(
    blobId: number,
    size: number,
    what: string,
    first?: Buffer | null,
  ): AsyncIterable<Uint8Array> {
    let got = 0;
    for (let seq = 0; got < size; seq++) {
      let data = seq === 0 ? first : undefined;
      if (data === undefined) {
        const r = await q<{ data: Buffer }>(
          'SELECT data FROM blob_chunks WHERE blob_id = $1 AND seq = $2',
          [blobId, seq],
          'ps-read-chunk',
        );
        data = r[0]?.data ?? null;
      }
      if (!data) throw new StoreError('not-found', `${what} was removed while being read`);
      got += data.length;
      yield data;
      live();
    }
  }

  const ctx: RepoContext = { main, cache, live, q, tx, accountTx, freeUnused, lockBlobs, readBlob };
  const store: Store = {
    kind: 'postgres',

    ...createAccountRepos(ctx),
    ...createMessageRepos(ctx),
    queue: createPostgresQueue({ pool: main, live, readBlob, freeUnused }),
    ...createFeatureRepos(ctx),

    openDelivery: async (dopts: DeliveryOptions): Promise<Delivery> => {
      live();
      const queue = validateQueueInputs(dopts.queue);
      if (dopts.targets.length === 0 && queue.length === 0)
        throw new StoreError('invalid', 'a delivery needs at least one target');
      const targets = dopts.targets.map((t) => ({
        userId: t.userId,
        mailbox: normalizeMailboxName(t.mailbox ?? 'INBOX'),
        flags: normalizeFlags(t.flags).join(' '),
      }));
      const d = new PostgresDelivery(deliveryCtx, targets, dopts, (done) => deliveries.delete(done), queue);
      deliveries.add(d);
      return d;
    },

    lockMaildrop: async (userId) => {
      live();
      if (!Number.isInteger(userId) || userId < 0 || userId > 0x7fffffff)
        throw new StoreError('invalid', `user id out of range for a lock: ${userId}`);
      let co: Checkout;
      try {
        co = await checkout(locks);
      } catch (err) {
        throw mapError(err);
      }
      const client = co.client;
      // The lock dies with its connection (co.broken()).
      const done = (err?: Error) => {
        heldLocks.delete(client);
        co.done(err);
      };
      let ok: boolean;
      try {
        const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [
          MAILDROP_LOCK_CLASS,
          userId,
        ]);
        ok = r.rows[0]!.ok;
      } catch (err) {
        done(err as Error);
        throw mapError(err);
      }
      if (!ok) {
        done();
        return undefined;
      }
      heldLocks.set(client, done);
      let held = true;
      return {
        release: async () => {
          if (!held) return;
          held = false;
          if (co.broken() || !heldLocks.has(client)) return done(new Error('lock connection gone'));
          try {
            await client.query('SELECT pg_advisory_unlock($1, $2)', [MAILDROP_LOCK_CLASS, userId]);
            done();
          } catch (err) {
            // Dropping the connection drops the lock too.
            done(err as Error);
          }
        },
      } satisfies MaildropLock;
    },

    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(renew);
      clearInterval(reclaim);
      await cache.close();
      const gone = new StoreError('unavailable', 'store is closed');
      await Promise.allSettled([...deliveries].map((d) => d.committing ?? d.fail(gone)));
      await committer.drain();
      // Held maildrop locks die with their connections.
      for (const done of [...heldLocks.values()]) done(new Error('store closed'));
      await endPools();
    },
  };
  return store;
}

/** Deletes pending blobs (and their chunks) whose lease ran out: their node is gone. */
export async function reclaimExpired(pool: Pool, leaseMs: number): Promise<number> {
  const r = await pool.query(
    `DELETE FROM blobs WHERE state = 0 AND lease_at < now() - make_interval(secs => $1::double precision)`,
    [leaseMs / 1000],
  );
  return r.rowCount ?? 0;
}

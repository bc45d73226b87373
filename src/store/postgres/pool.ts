/**
 * Connection pools of the PostgreSQL store and the two ways it borrows a connection. A
 * checked-out client gets an 'error' listener for as long as it is out (node-postgres would
 * otherwise turn a connection dropped between two queries into an uncaught exception), and a
 * client whose connection broke is destroyed on release instead of going back to the pool; the
 * pool opens a fresh one on the next request, so nodes reconnect by themselves after a database
 * restart.
 */
import pg from 'pg';
import { isRetryable, isUnavailable } from './errors.js';

/** int8 (bigint) as a JS number: ids, sizes and ms timestamps stay far below 2^53. */
const INT8_OID = 20;
export const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export interface PoolSettings {
  connectionString: string;
  max: number;
  /** Session settings sent at connect (`-c name=value ...`). */
  options?: string;
  connectTimeoutMs: number;
  applicationName: string;
  onError(err: Error): void;
}

export function createPool(s: PoolSettings): pg.Pool {
  const pool = new pg.Pool({
    connectionString: s.connectionString,
    max: s.max,
    options: s.options,
    connectionTimeoutMillis: s.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: s.applicationName,
    types: pgTypes,
    keepAlive: true,
  });
  // An idle connection that dies (server restart, pg_terminate_backend) is dropped by the pool.
  pool.on('error', s.onError);
  return pool;
}

/** A checked-out client and the first connection error seen while it is out. */
export interface Checkout {
  client: pg.PoolClient;
  broken(): Error | undefined;
  /** Gives the client back (destroyed if its connection broke, or with `err`); idempotent. */
  done(err?: Error): void;
}

/**
 * Checks a client out with an 'error' listener attached synchronously, in pg-pool's callback:
 * with `await pool.connect()` the listener would come a microtask later, and a FATAL message
 * (server restart, pg_terminate_backend) parsed from the same TCP read as the previous query's
 * last message would hit a client without listener and crash the process.
 */
export function checkout(pool: pg.Pool): Promise<Checkout> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client) => {
      if (err || !client) return reject(err ?? new Error('no client'));
      let broken: Error | undefined;
      let returned = false;
      const onError = (e: Error) => {
        broken ??= e;
      };
      client.on('error', onError);
      resolve({
        client,
        broken: () => broken,
        done: (e) => {
          if (returned) return;
          returned = true;
          client.off('error', onError);
          client.release(broken ?? e);
        },
      });
    });
  });
}

/** Borrows a client for `fn`; a client whose connection broke is destroyed, not pooled. */
export async function withClient<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const co = await checkout(pool);
  let failed: Error | undefined;
  try {
    return await fn(co.client);
  } catch (err) {
    if (isUnavailable(err) && !isRetryable(err)) failed = err as Error;
    throw err;
  } finally {
    co.done(failed);
  }
}

/**
 * Runs `fn` in one transaction (READ COMMITTED) on a borrowed client; reruns it from the start
 * on a deadlock or serialization failure, `retries` times at most.
 */
export async function transaction<T>(
  pool: pg.Pool,
  fn: (c: pg.PoolClient) => Promise<T>,
  retries = 3,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withClient(pool, async (c) => {
        await c.query('BEGIN');
        try {
          const r = await fn(c);
          await c.query('COMMIT');
          return r;
        } catch (err) {
          await c.query('ROLLBACK').catch(() => {});
          throw err;
        }
      });
    } catch (err) {
      if (isRetryable(err) && attempt < retries) continue;
      throw err;
    }
  }
}

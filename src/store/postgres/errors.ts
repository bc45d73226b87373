/**
 * Turns node-postgres failures into the Store's error vocabulary. Connection trouble of any kind
 * (refused, reset, terminated by an administrator or a server restart, pool timeout, too many
 * connections, a read-only standby) is StoreError('unavailable'): the caller answers 451 4.3.0 or
 * -ERR [SYS/TEMP] and the client retries; the pool drops the broken connection and opens a new
 * one on the next request. Anything else is an internal error and keeps its own message.
 */
import { StoreError } from '../types.js';

/** SQLSTATE classes and codes that mean "the database is not there right now". */
// connection, authorization (a role or password not accepted), missing database, resources,
// operator intervention (shutdown, terminated), system
const UNAVAILABLE_CLASSES = ['08', '28', '3D', '53', '57', '58'];
const UNAVAILABLE_CODES = new Set(['25006', '40001', '40P01']); // read-only standby, retry-able conflicts
const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);
const MESSAGES = [
  'Connection terminated',
  'connection timeout',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Client was closed',
  'Cannot use a pool after calling end',
  'Connection ended',
];

export function isUnavailable(err: unknown): boolean {
  if (err instanceof StoreError) return err.code === 'unavailable';
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (code.length === 5 && (UNAVAILABLE_CLASSES.includes(code.slice(0, 2)) || UNAVAILABLE_CODES.has(code)))
    return true;
  if (NODE_CODES.has(code)) return true;
  const msg = typeof e.message === 'string' ? e.message : '';
  return MESSAGES.some((m) => msg.includes(m));
}

/** Deadlocks and serialization failures: the whole transaction may simply be run again. */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** StoreErrors pass through; connection trouble becomes 'unavailable'; the rest is rethrown. */
export function mapError(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  if (isUnavailable(err)) {
    return new StoreError('unavailable', `PostgreSQL unavailable: ${(err as Error).message ?? String(err)}`);
  }
  return err;
}

/**
 * What the repositories of the PostgreSQL store share: its main pool and the ways to use it
 * (single statements, transactions, account writes that notify every node), and the blob helpers.
 * Built once by openPostgresStore (postgres-store.ts).
 */
import type { Pool, PoolClient } from 'pg';
import { StoreError } from '../types.js';
import type { AccountCache } from './account-cache.js';

export interface RepoContext {
  main: Pool;
  cache: AccountCache;
  /** Throws StoreError('unavailable') once the store is closed. */
  live(): void;
  /** One statement; errors mapped (errors.ts). */
  q<R extends object>(text: string, values?: unknown[], name?: string): Promise<R[]>;
  /** A transaction (deadlocks retried); `admin` serializes it with every account write. */
  tx<T>(fn: (c: PoolClient) => Promise<T>, admin?: boolean): Promise<T>;
  /** An account write: serialized store-wide, every node's account cache emptied once it commits. */
  accountTx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T>;
  /** Deletes committed blobs in `ids` no message or queue entry refers to; the caller locked them. */
  freeUnused(c: PoolClient, ids: number[]): Promise<unknown>;
  /** Locks blob rows in id order (expunge, user removal: who frees the last reference). */
  lockBlobs(c: PoolClient, ids: number[]): Promise<unknown>;
  /** Streams a blob row by row; `first` is chunk 0 when the caller already fetched it. */
  readBlob(blobId: number, size: number, what: string, first?: Buffer | null): AsyncIterable<Uint8Array>;
}

export function notFound(what: string, name: string): StoreError {
  return new StoreError('not-found', `no such ${what}: ${name}`);
}

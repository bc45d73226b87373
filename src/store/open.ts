/**
 * Opens a store from its URL, the form used by `--store`, `store.url` and `$POSTHORN_STORE`:
 * - `sqlite:PATH` — the embedded store in the file PATH (relative to the working directory;
 *   parent directories are created);
 * - `memory:` — an empty in-memory store (tests, demos);
 * - `postgres://…` / `postgresql://…` — the cluster store (PostgreSQL, shared by several nodes;
 *   `?pool_max=N&lock_max=N` size its connection pools, see postgres/postgres-store.ts).
 * Anything else is StoreError('invalid').
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Logger } from '../core/index.js';
import { createMemoryStore } from './memory/index.js';
import type { PostgresStoreOptions } from './postgres/index.js';
import { openSqliteStore, MIGRATIONS as SQLITE_MIGRATIONS, type SqliteStoreOptions } from './sqlite/index.js';
import { type Store, StoreError } from './types.js';

export interface OpenStoreOptions {
  logger?: Logger;
  /** Passed to the SQLite store (durability, chunk size, ...). */
  sqlite?: Omit<SqliteStoreOptions, 'logger'>;
  /** Passed to the PostgreSQL store (pool sizes, chunk size, leases, ...). */
  postgres?: Omit<PostgresStoreOptions, 'logger'>;
}

/**
 * The PostgreSQL store, loaded when first opened: the pg driver is a few MB of heap that a SQLite
 * server never needs.
 */
export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  return (await import('./postgres/index.js')).openPostgresStore(url, opts);
}

export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<Store> {
  if (url === 'memory:' || url === 'memory://') return createMemoryStore();
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = decodeURIComponent(new URL(url).pathname);
    if (path === '') throw new StoreError('invalid', `store URL needs a path: ${url}`);
    return openSqliteStore(path, { ...opts.sqlite, logger: opts.logger });
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    return openPostgresStore(url, { ...opts.postgres, logger: opts.logger });
  }
  throw new StoreError('invalid', `unknown store URL (want sqlite:PATH, memory: or postgres://...): ${url}`);
}

export interface StoreSchemaStatus {
  kind: 'sqlite' | 'postgres' | 'memory';
  /** Migration steps applied (0: nothing there yet). */
  current: number;
  /** Steps this Posthorn knows. */
  target: number;
  /** What migrating would do, one line per step. */
  pending: string[];
}

/** Where the schema behind `url` stands, without creating or changing anything. */
export async function storeSchemaStatus(url: string): Promise<StoreSchemaStatus> {
  if (url === 'memory:' || url === 'memory://') return { kind: 'memory', current: 0, target: 0, pending: [] };
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { postgresSchemaStatus } = await import('./postgres/index.js');
    return { kind: 'postgres', ...(await postgresSchemaStatus(url)) };
  }
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = decodeURIComponent(new URL(url).pathname);
    let current = 0;
    if (existsSync(path)) {
      const db = new Database(path, { readonly: true, fileMustExist: true });
      try {
        current = db.pragma('user_version', { simple: true }) as number;
      } finally {
        db.close();
      }
    }
    return {
      kind: 'sqlite',
      current,
      target: SQLITE_MIGRATIONS.length,
      pending: SQLITE_MIGRATIONS.slice(current).map((m) => m.description),
    };
  }
  throw new StoreError('invalid', `unknown store URL (want sqlite:PATH, memory: or postgres://...): ${url}`);
}

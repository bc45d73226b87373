/**
 * Opens a store from its URL, the form used by `--store`, `store.url` and `$POSTHORN_STORE`:
 * - `sqlite:PATH` — the embedded store in the file PATH (relative to the working directory;
 *   parent directories are created);
 * - `memory:` — an empty in-memory store (tests, demos);
 * - `postgres://…` / `postgresql://…` — the cluster store (not available yet).
 * Anything else is StoreError('invalid').
 */
import type { Logger } from '../core/index.js';
import { createMemoryStore } from './memory/index.js';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite/index.js';
import { type Store, StoreError } from './types.js';

export interface OpenStoreOptions {
  logger?: Logger;
  /** Passed to the SQLite store (durability, chunk size, ...). */
  sqlite?: Omit<SqliteStoreOptions, 'logger'>;
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
    throw new StoreError('invalid', 'PostgreSQL store is not available yet');
  }
  throw new StoreError('invalid', `unknown store URL (want sqlite:PATH, memory: or postgres://...): ${url}`);
}

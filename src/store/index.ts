export { createMemoryStore, type MemoryStore, type MemoryStoreStats } from './memory/index.js';
export {
  type NormalizedAddress,
  normalizeAddress,
  normalizeDomain,
  normalizeMailboxName,
} from './names.js';
export {
  type OpenStoreOptions,
  openPostgresStore,
  openStore,
  type StoreSchemaStatus,
  storeSchemaStatus,
} from './open.js';
export type { PostgresStoreOptions } from './postgres/index.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/index.js';
export * from './types.js';

export { createMemoryStore, type MemoryStore, type MemoryStoreStats } from './memory/index.js';
export {
  type NormalizedAddress,
  normalizeAddress,
  normalizeDomain,
  normalizeMailboxName,
} from './names.js';
export { type OpenStoreOptions, openStore } from './open.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/index.js';
export * from './types.js';

export { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
export {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_MAX_BATCH_BYTES,
  DEFAULT_MAX_INFLIGHT_BYTES,
  DEFAULT_MAX_INFLIGHT_CHUNKS,
  openSqliteStore,
  type SqliteStoreOptions,
} from './sqlite-store.js';

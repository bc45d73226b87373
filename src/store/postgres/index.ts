export {
  type CopyOptions,
  type CopyReport,
  copyIntoPostgres,
  type Manifest,
  type StoreCounts,
  storeManifest,
} from './copy.js';
export {
  DEFAULT_BULK_POOL_MAX,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_LEASE_MS,
  DEFAULT_LOCK_POOL_MAX,
  DEFAULT_POOL_MAX,
  openPostgresStore,
  type PostgresStoreOptions,
  redactUrl,
} from './postgres-store.js';
export { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
export { postgresSchemaStatus } from './status.js';

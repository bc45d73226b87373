/** Reads where a PostgreSQL database's schema stands, without changing anything (`store migrate --dry-run`). */
import pg from 'pg';
import { StoreError } from '../types.js';
import { parsePostgresUrl, redactUrl } from './postgres-store.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

export interface SchemaStatus {
  /** Steps applied in the database (0: empty). */
  current: number;
  /** Steps this Posthorn knows. */
  target: number;
  /** Descriptions of the steps a migration would apply. */
  pending: string[];
}

export async function postgresSchemaStatus(url: string): Promise<SchemaStatus> {
  const parsed = parsePostgresUrl(url);
  const c = new pg.Client({
    connectionString: parsed.connectionString,
    options: parsed.options,
    connectionTimeoutMillis: 5000,
  });
  c.on('error', () => {});
  try {
    await c.connect();
  } catch (err) {
    throw new StoreError('unavailable', `cannot reach ${redactUrl(url)}: ${(err as Error).message}`);
  }
  try {
    const t = await c.query<{ t: string | null }>("SELECT to_regclass('posthorn_schema')::text AS t");
    const current =
      t.rows[0]?.t == null
        ? 0
        : ((await c.query<{ version: number }>('SELECT version FROM posthorn_schema')).rows[0]?.version ?? 0);
    return { current, target: SCHEMA_VERSION, pending: MIGRATIONS.slice(current).map((m) => m.description) };
  } finally {
    await c.end().catch(() => {});
  }
}

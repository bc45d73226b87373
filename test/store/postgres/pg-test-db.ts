/**
 * A throw-away PostgreSQL database per test run, on the server at 127.0.0.1:5432 (override with
 * $POSTHORN_TEST_PG, a URL of any database the test role may connect to). The database is named
 * `posthorn_test_<pid>_<random>`, so parallel runs never collide, and dropped (FORCE: our own
 * leftover connections go too) at the end. Inside it, `schemaUrl()` gives each store its own
 * empty schema through the `options=-c search_path=…` URL parameter.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const CANDIDATES = process.env.POSTHORN_TEST_PG
  ? [process.env.POSTHORN_TEST_PG]
  : [
      'postgres://postgres@127.0.0.1:5432/postgres',
      'postgres://root@127.0.0.1:5432/postgres',
      'postgres://postgres@127.0.0.1:5432/test',
      'postgres://root@127.0.0.1:5432/test',
    ];

export interface TestDatabase {
  name: string;
  /** The database's URL (public schema). */
  url: string;
  /** A URL whose sessions use a fresh schema of their own (created here). */
  schemaUrl(): Promise<{ url: string; schema: string }>;
  /** Runs SQL in the test database (as the test role). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

async function adminClient(): Promise<{ client: pg.Client; url: string }> {
  const errors: string[] = [];
  for (const url of CANDIDATES) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      return { client, url };
    } catch (err) {
      errors.push(`${url}: ${(err as Error).message}`);
      await client.end().catch(() => {});
    }
  }
  throw new Error(`no PostgreSQL for the tests (set $POSTHORN_TEST_PG):\n${errors.join('\n')}`);
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const { client: admin, url: adminUrl } = await adminClient();
  const name = `posthorn_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => {});
  let schemas = 0;
  return {
    name,
    url,
    async schemaUrl() {
      const schema = `s${++schemas}`;
      await pool.query(`CREATE SCHEMA ${schema}`);
      const s = new URL(url);
      s.searchParams.set('options', `-c search_path=${schema}`);
      return { url: s.toString(), schema };
    },
    async query(sql, params) {
      return (await pool.query(sql, params)).rows;
    },
    async drop() {
      await pool.end().catch(() => {});
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

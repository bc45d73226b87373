/**
 * The PostgreSQL schema as an ordered list of migrations, applied by Posthorn itself. The table
 * `posthorn_schema` holds one row: the number of steps applied. Opening a store runs the missing
 * steps, each in its own transaction together with the version bump, under a transaction-scoped
 * advisory lock, so that nodes starting together migrate once and a crash leaves the database at a
 * step boundary. A database whose version is newer than this code knows is refused with
 * StoreError('invalid') before anything is written: an older node must never write to a newer
 * schema (a rolling upgrade starts the new nodes first and then stops the old ones).
 *
 * The layout mirrors the SQLite store's (same tables and meaning), so that `posthorn store copy`
 * moves an installation between them without renumbering anything. Never edit a released step;
 * append a new one.
 */
import type { PoolClient } from 'pg';
import { StoreError } from '../types.js';
import { COMMIT_BATCH_FUNCTION } from './commit-function.js';

export interface Migration {
  /** One line for the log and for `posthorn store migrate --dry-run`. */
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    description: 'accounts, mailboxes, chunked blobs with leases, messages',
    sql: `
      CREATE TABLE domains (
        name       text PRIMARY KEY,             -- lower-cased
        created_at bigint NOT NULL               -- ms since epoch
      );
      CREATE TABLE users (
        id            bigserial PRIMARY KEY,
        address       text NOT NULL,             -- local part as created, domain lower-cased
        address_key   text NOT NULL UNIQUE,      -- lower-cased whole address
        local_key     text NOT NULL,             -- lower-cased local part (POP3 USER without domain)
        domain        text NOT NULL REFERENCES domains(name),
        password_hash text NOT NULL,
        is_admin      boolean NOT NULL DEFAULT false,
        created_at    bigint NOT NULL
      );
      CREATE INDEX users_local ON users(local_key);
      CREATE INDEX users_domain ON users(domain);
      CREATE TABLE aliases (
        address_key text PRIMARY KEY,
        address     text NOT NULL,
        domain      text NOT NULL REFERENCES domains(name),
        targets     jsonb NOT NULL,              -- array of addresses
        created_at  bigint NOT NULL
      );
      CREATE INDEX aliases_domain ON aliases(domain);
      CREATE TABLE mailboxes (
        id           bigserial PRIMARY KEY,
        user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name         text NOT NULL,
        uid_validity bigint NOT NULL,
        uid_next     bigint NOT NULL,
        UNIQUE (user_id, name)
      );
      -- One row per delivery's bytes. state 0 = being written by node 'owner' (invisible); the
      -- owner renews lease_at while it writes, and any node deletes a pending blob whose lease is
      -- long expired (its node died: the pid trick of SQLite does not work across machines).
      -- state 1 = committed.
      CREATE TABLE blobs (
        id         bigserial PRIMARY KEY,
        state      smallint NOT NULL,
        owner      text,
        lease_at   timestamptz,
        size       bigint NOT NULL DEFAULT 0,
        sha256     text,
        envelope   jsonb,                        -- StoredEnvelope
        created_at bigint NOT NULL
      );
      CREATE INDEX blobs_pending ON blobs(lease_at) WHERE state = 0;
      CREATE TABLE blob_chunks (
        blob_id bigint NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
        seq     integer NOT NULL,
        data    bytea NOT NULL,
        PRIMARY KEY (blob_id, seq)
      );
      -- Chunks are written once and read whole: never try to compress them (mail is mostly
      -- compressed or base64 already) and keep them out of line without a second pass.
      ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
      CREATE TABLE messages (
        id          bigserial PRIMARY KEY,
        mailbox_id  bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid         bigint NOT NULL,
        blob_id     bigint NOT NULL REFERENCES blobs(id),
        flags       text NOT NULL,               -- space-separated, sorted
        received_at bigint NOT NULL,
        UNIQUE (mailbox_id, uid)
      );
      CREATE INDEX messages_blob ON messages(blob_id);
      -- Store-wide counters that must never go back (UIDVALIDITY outlives deleted mailboxes).
      CREATE TABLE counters (
        name  text PRIMARY KEY,
        value bigint NOT NULL
      );
      INSERT INTO counters (name, value) VALUES ('uid_validity', 0);
    `,
  },
  {
    description:
      'per-user forwarding; outbound queue: entries sharing delivery blobs, per-recipient state, leases',
    sql: `
      ALTER TABLE users ADD COLUMN forward jsonb;  -- UserForward, NULL when not forwarding
      CREATE TABLE queue (
        id              bigserial PRIMARY KEY,
        blob_id         bigint NOT NULL REFERENCES blobs(id),
        mail_from       text NOT NULL,
        ret             text,
        envid           text,
        body8bit        boolean NOT NULL,
        smtputf8        boolean NOT NULL,
        created_at      bigint NOT NULL,
        expires_at      bigint NOT NULL,
        next_attempt_at bigint NOT NULL,          -- earliest over pending recipients (ms)
        lease_owner     text,
        lease_token     text,
        lease_until     bigint
      );
      CREATE INDEX queue_due ON queue(next_attempt_at, id);
      CREATE INDEX queue_blob ON queue(blob_id);
      CREATE TABLE queue_recipients (
        queue_id        bigint NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
        idx             integer NOT NULL,
        address         text NOT NULL,
        orcpt           text,
        notify          text,                     -- comma-separated NOTIFY values
        state           text NOT NULL,            -- pending | delivered | failed
        attempts        integer NOT NULL,
        next_attempt_at bigint NOT NULL,
        last_attempt_at bigint,
        last            jsonb,                    -- QueueAttemptResult
        PRIMARY KEY (queue_id, idx)
      );
    `,
  },
  {
    description: 'group commit in one round trip: posthorn_commit_batch()',
    sql: COMMIT_BATCH_FUNCTION,
  },
  {
    description: 'vacation auto-replies and whom they answered; delivery status of sent mail',
    sql: `
      CREATE TABLE vacation (
        user_id       bigint PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        enabled       boolean NOT NULL,
        subject       text NOT NULL,
        body          text NOT NULL,
        interval_days integer NOT NULL,
        updated_at    bigint NOT NULL
      );
      CREATE TABLE vacation_replies (
        user_id    bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        sender     text NOT NULL,                -- lower-cased envelope sender
        replied_at bigint NOT NULL,
        PRIMARY KEY (user_id, sender)
      );
      CREATE TABLE sent_links (
        message_id bigint PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
        link       jsonb NOT NULL                -- SentLink
      );
      -- Final outcomes of queue recipients, kept after the entry is gone (sha256: see SQLite's).
      CREATE TABLE queue_outcomes (
        queue_id bigint NOT NULL,
        sha256   text NOT NULL,
        idx      integer NOT NULL,
        address  text NOT NULL,
        state    text NOT NULL,                  -- delivered | failed
        last     jsonb,                          -- QueueAttemptResult
        at       bigint NOT NULL,
        PRIMARY KEY (queue_id, sha256, idx)
      );
      CREATE INDEX queue_outcomes_at ON queue_outcomes(at);
    `,
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Advisory lock key (two int4 halves) serializing migrations of one database: 'posthorn', 'mig'. */
const MIGRATION_LOCK = [0x706f7374, 0x6d6967] as const;

/** The version of the database's schema: 0 when Posthorn never created it. */
export async function schemaVersion(c: PoolClient): Promise<number> {
  const t = await c.query<{ t: string | null }>("SELECT to_regclass('posthorn_schema')::text AS t");
  if (t.rows[0]?.t == null) return 0;
  const r = await c.query<{ version: number }>('SELECT version FROM posthorn_schema');
  return r.rows[0]?.version ?? 0;
}

function newerError(current: number, where: string): StoreError {
  return new StoreError(
    'invalid',
    `database ${where} has schema version ${current}, newer than ${SCHEMA_VERSION} known to this Posthorn; upgrade Posthorn`,
  );
}

/** Refuses a database written by a newer Posthorn (StoreError 'invalid'), reading only. */
export async function checkNotNewer(c: PoolClient, where: string): Promise<number> {
  const current = await schemaVersion(c);
  if (current > SCHEMA_VERSION) throw newerError(current, where);
  return current;
}

/** Brings the database to SCHEMA_VERSION; returns the steps applied. Refuses newer databases. */
export async function migrate(c: PoolClient, where: string): Promise<number> {
  if ((await checkNotNewer(c, where)) === SCHEMA_VERSION) return 0;
  let applied = 0;
  for (;;) {
    await c.query('BEGIN');
    try {
      // Re-read under the lock: another node may have migrated meanwhile.
      await c.query('SELECT pg_advisory_xact_lock($1, $2)', [...MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS posthorn_schema (version integer NOT NULL)');
      const now = await schemaVersion(c);
      if (now > SCHEMA_VERSION) throw newerError(now, where);
      if (now === SCHEMA_VERSION) {
        await c.query('COMMIT');
        return applied;
      }
      await c.query(MIGRATIONS[now]!.sql);
      if (now === 0) await c.query('INSERT INTO posthorn_schema (version) VALUES (1)');
      else await c.query('UPDATE posthorn_schema SET version = $1', [now + 1]);
      await c.query('COMMIT');
      applied++;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }
}

/**
 * The SQLite schema as an ordered list of migrations. The database's `PRAGMA user_version` is the
 * number of steps applied; opening runs the missing ones in order, each in its own IMMEDIATE
 * transaction together with the version bump, so a crash leaves the database at a step boundary.
 * A database whose version is newer than this code knows is refused with StoreError('invalid')
 * and left untouched: an older Posthorn must never write to a newer schema.
 *
 * Never edit a released step; append a new one.
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../types.js';
import { FEATURES_MIGRATION_SQL } from './features-sql.js';
import { QUEUE_MIGRATION_SQL } from './queue-sql.js';

export interface Migration {
  /** One line for the log. */
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    description: 'accounts, mailboxes, chunked blobs, messages',
    sql: `
      CREATE TABLE domains (
        name       TEXT PRIMARY KEY,            -- lower-cased
        created_at INTEGER NOT NULL             -- ms since epoch
      );
      CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        address       TEXT NOT NULL,            -- local part as created, domain lower-cased
        address_key   TEXT NOT NULL UNIQUE,     -- lower-cased whole address
        local_key     TEXT NOT NULL,            -- lower-cased local part (POP3 USER without domain)
        domain        TEXT NOT NULL REFERENCES domains(name),
        password_hash TEXT NOT NULL,
        is_admin      INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
      );
      CREATE INDEX users_local ON users(local_key);
      CREATE INDEX users_domain ON users(domain);
      CREATE TABLE aliases (
        address_key TEXT PRIMARY KEY,
        address     TEXT NOT NULL,
        domain      TEXT NOT NULL REFERENCES domains(name),
        targets     TEXT NOT NULL,              -- JSON array of addresses
        created_at  INTEGER NOT NULL
      );
      CREATE INDEX aliases_domain ON aliases(domain);
      CREATE TABLE mailboxes (
        id           INTEGER PRIMARY KEY,
        user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name         TEXT NOT NULL,
        uid_validity INTEGER NOT NULL,
        uid_next     INTEGER NOT NULL,
        UNIQUE (user_id, name)
      );
      -- One row per delivery's bytes. state 0 = being written by the process (owner_pid,
      -- owner_token) (invisible, reclaimed once that process is gone), 1 = committed.
      CREATE TABLE blobs (
        id          INTEGER PRIMARY KEY,
        state       INTEGER NOT NULL,
        owner_pid   INTEGER,
        owner_token INTEGER,
        size       INTEGER NOT NULL DEFAULT 0,
        sha256     TEXT,
        envelope   TEXT,                        -- JSON StoredEnvelope
        created_at INTEGER NOT NULL
      );
      CREATE INDEX blobs_pending ON blobs(owner_pid) WHERE state = 0;
      CREATE TABLE blob_chunks (
        blob_id INTEGER NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
        seq     INTEGER NOT NULL,
        data    BLOB NOT NULL,
        PRIMARY KEY (blob_id, seq)
      );
      CREATE TABLE messages (
        id          INTEGER PRIMARY KEY,
        mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        uid         INTEGER NOT NULL,
        blob_id     INTEGER NOT NULL REFERENCES blobs(id),
        flags       TEXT NOT NULL,              -- space-separated, sorted
        received_at INTEGER NOT NULL,
        UNIQUE (mailbox_id, uid)
      );
      CREATE INDEX messages_blob ON messages(blob_id);
      -- Store-wide counters that must never go back (UIDVALIDITY outlives deleted mailboxes).
      CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );
    `,
  },
  {
    description: 'outbound queue: entries sharing delivery blobs, per-recipient state, leases',
    sql: QUEUE_MIGRATION_SQL,
  },
  {
    description: 'vacation auto-replies and whom they answered; delivery status of sent mail',
    sql: FEATURES_MIGRATION_SQL,
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Refuses a database written by a newer Posthorn (StoreError 'invalid'), reading only. */
export function checkNotNewer(db: Database.Database, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new StoreError(
      'invalid',
      `database ${path} has schema version ${current}, newer than ${SCHEMA_VERSION} known to this Posthorn; upgrade Posthorn`,
    );
  }
}

/** Brings the database to SCHEMA_VERSION; returns the steps applied. Refuses newer databases. */
export function migrate(db: Database.Database, path: string): number {
  checkNotNewer(db, path);
  let applied = 0;
  // Each step re-reads the version inside the write lock: another process may migrate meanwhile.
  const step = db.transaction((): boolean => {
    const now = db.pragma('user_version', { simple: true }) as number;
    if (now >= SCHEMA_VERSION) return false;
    db.exec(MIGRATIONS[now]!.sql);
    db.pragma(`user_version = ${now + 1}`);
    return true;
  });
  while (step.immediate()) applied++;
  return applied;
}

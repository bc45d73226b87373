/**
 * The outbound queue in SQLite (contract in ../types.ts): schema step 2, the writer-side
 * operations (run in the writer thread inside its batch transaction, each in a savepoint) and the
 * reads (main thread, read-only connection).
 *
 * Layout: `queue` has one row per entry, pointing at the delivery's blob (bytes stored once);
 * `queue_recipients` one row per recipient with its own state and next attempt. The entry's
 * `next_attempt_at` is the earliest over its pending recipients, kept in step by every write, so
 * `claim` is one indexed range scan. A lease is (lease_token, lease_until); one SQLite file has one
 * writer at a time (IMMEDIATE transactions), so a claim is atomic across processes too.
 */
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { applyUpdates, newRecipients, nextDue } from '../memory/queue-rules.js';
import {
  parseQueueId,
  QUEUE_ENTRY_COLS,
  type RecipientRow as SharedRecipientRow,
  toRecipient,
} from '../rows.js';
import {
  type QueueClaim,
  type QueueEntry,
  type QueueEntryInput,
  type QueueRecipient,
  type QueueRecipientUpdate,
  type StoredEnvelope,
  StoreError,
} from '../types.js';

export const QUEUE_MIGRATION_SQL = `
  ALTER TABLE users ADD COLUMN forward TEXT;  -- JSON UserForward, NULL when not forwarding
  CREATE TABLE queue (
    id              INTEGER PRIMARY KEY,
    blob_id         INTEGER NOT NULL REFERENCES blobs(id),
    mail_from       TEXT NOT NULL,
    ret             TEXT,
    envid           TEXT,
    body8bit        INTEGER NOT NULL,
    smtputf8        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,       -- earliest over pending recipients
    lease_owner     TEXT,
    lease_token     TEXT,
    lease_until     INTEGER
  );
  CREATE INDEX queue_due ON queue(next_attempt_at);
  CREATE INDEX queue_blob ON queue(blob_id);
  CREATE TABLE queue_recipients (
    queue_id        INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
    idx             INTEGER NOT NULL,
    address         TEXT NOT NULL,
    orcpt           TEXT,
    notify          TEXT,                   -- comma-separated NOTIFY values
    state           TEXT NOT NULL,          -- pending | delivered | failed
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_attempt_at INTEGER,
    last            TEXT,                   -- JSON QueueAttemptResult
    PRIMARY KEY (queue_id, idx)
  );
`;

interface EntryRow {
  id: number;
  blob_id: number;
  mail_from: string;
  ret: string | null;
  envid: string | null;
  body8bit: number;
  smtputf8: number;
  created_at: number;
  expires_at: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_token: string | null;
  lease_until: number | null;
  size: number;
  sha256: string;
  envelope: string | null;
}
type RecipientRow = SharedRecipientRow<string>;

const fromRow = (r: RecipientRow): QueueRecipient => toRecipient(r, (last) => JSON.parse(last));

function toEntry(r: EntryRow, recipients: QueueRecipient[]): QueueEntry {
  const e: QueueEntry = {
    id: String(r.id),
    mailFrom: r.mail_from,
    body8bit: r.body8bit !== 0,
    smtputf8: r.smtputf8 !== 0,
    createdAt: new Date(r.created_at),
    expiresAt: new Date(r.expires_at),
    nextAttemptAt: new Date(r.next_attempt_at),
    size: r.size,
    sha256: r.sha256,
    envelope: (r.envelope ? JSON.parse(r.envelope) : { mailFrom: r.mail_from, rcptTo: [] }) as StoredEnvelope,
    recipients,
  };
  if (r.ret !== null) e.ret = r.ret as 'FULL' | 'HDRS';
  if (r.envid !== null) e.envid = r.envid;
  if (r.lease_owner !== null) e.leaseOwner = r.lease_owner;
  if (r.lease_until !== null) e.leaseUntil = new Date(r.lease_until);
  return e;
}

/** Statements both sides use to load entries. */
function loaders(db: Database.Database) {
  return {
    entry: db.prepare(
      `SELECT ${QUEUE_ENTRY_COLS} FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = ?`,
    ),
    recipients: db.prepare('SELECT * FROM queue_recipients WHERE queue_id = ? ORDER BY idx'),
  };
}

/** The writer thread's queue operations. */
export class QueueWriter {
  private readonly s;
  private readonly load;

  constructor(db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.load = loaders(db);
    this.s = {
      insert:
        p(`INSERT INTO queue (blob_id, mail_from, ret, envid, body8bit, smtputf8, created_at, expires_at, next_attempt_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertRcpt:
        p(`INSERT INTO queue_recipients (queue_id, idx, address, orcpt, notify, state, attempts, next_attempt_at)
                     VALUES (?, ?, ?, ?, ?, 'pending', 0, ?)`),
      due: p(`SELECT id FROM queue WHERE next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
              ORDER BY next_attempt_at, id LIMIT ?`).pluck(),
      lease: p('UPDATE queue SET lease_owner = ?, lease_token = ?, lease_until = ? WHERE id = ?'),
      leaseOf: p('SELECT lease_token AS token, lease_until AS until FROM queue WHERE id = ?'),
      endLease: p('UPDATE queue SET lease_owner = NULL, lease_token = NULL, lease_until = NULL WHERE id = ?'),
      renew: p('UPDATE queue SET lease_until = ? WHERE id = ?'),
      setRcpt:
        p(`UPDATE queue_recipients SET state = ?, attempts = ?, next_attempt_at = ?, last_attempt_at = ?, last = ?
                  WHERE queue_id = ? AND idx = ?`),
      setNext: p('UPDATE queue SET next_attempt_at = ? WHERE id = ?'),
      blobOf: p('SELECT blob_id FROM queue WHERE id = ?').pluck(),
      delete: p('DELETE FROM queue WHERE id = ?'),
      blobFreeIfUnused: p(`DELETE FROM blobs WHERE id = ? AND state = 1
        AND NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = blobs.id)
        AND NOT EXISTS (SELECT 1 FROM queue WHERE blob_id = blobs.id)`),
      retryOne: p(
        `UPDATE queue_recipients SET next_attempt_at = ? WHERE queue_id = ? AND state = 'pending' AND next_attempt_at > ?`,
      ),
      retryAll: p(
        `UPDATE queue_recipients SET next_attempt_at = ? WHERE state = 'pending' AND next_attempt_at > ?`,
      ),
      retriedIds: p(`SELECT id FROM queue WHERE next_attempt_at > ?`).pluck(),
      exists: p('SELECT 1 FROM queue WHERE id = ?').pluck(),
    };
  }

  /** Inside a delivery commit: one entry per input, pointing at the committed blob. */
  insert(inputs: QueueEntryInput[], blobId: number, now: number): string[] {
    return inputs.map((q) => {
      const rcpts = newRecipients(q, new Date(now));
      const next = q.nextAttemptAt?.getTime() ?? now;
      const id = Number(
        this.s.insert.run(
          blobId,
          q.mailFrom,
          q.ret ?? null,
          q.envid ?? null,
          q.body8bit ? 1 : 0,
          q.smtputf8 ? 1 : 0,
          now,
          q.expiresAt.getTime(),
          next,
        ).lastInsertRowid,
      );
      for (const r of rcpts) {
        this.s.insertRcpt.run(id, r.index, r.address, r.orcpt ?? null, r.notify?.join(',') ?? null, next);
      }
      return String(id);
    });
  }

  private entry(id: number): QueueEntry | undefined {
    const r = this.load.entry.get(id) as EntryRow | undefined;
    if (!r) return undefined;
    return toEntry(r, (this.load.recipients.all(id) as RecipientRow[]).map(fromRow));
  }

  claim(owner: string, limit: number, leaseMs: number, now: number): QueueClaim[] {
    const ids = this.s.due.all(now, now, limit) as number[];
    return ids.map((id) => {
      const token = randomBytes(12).toString('hex');
      this.s.lease.run(owner, token, now + leaseMs, id);
      return { entry: this.entry(id)!, token };
    });
  }

  private held(id: string, token: string): number {
    const n = parseQueueId(id);
    const l =
      n === undefined ? undefined : (this.s.leaseOf.get(n) as { token: string | null; until: number | null });
    if (!l || n === undefined) throw new StoreError('not-found', `no such queue entry: ${id}`);
    if (l.token !== token || l.until === null || l.until < Date.now())
      throw new StoreError('conflict', `the lease on queue entry ${id} is no longer held`);
    return n;
  }

  update(id: string, token: string, updates: QueueRecipientUpdate[], keepLease: boolean): null {
    const n = this.held(id, token);
    const now = Date.now();
    const before = (this.load.recipients.all(n) as RecipientRow[]).map(fromRow);
    const after = applyUpdates(before, updates, new Date(now));
    for (const r of after) {
      this.s.setRcpt.run(
        r.state,
        r.attempts,
        r.nextAttemptAt.getTime(),
        r.lastAttemptAt?.getTime() ?? null,
        r.last ? JSON.stringify(r.last) : null,
        n,
        r.index,
      );
    }
    const next = nextDue(after);
    if (next === undefined) {
      this.removeRow(n);
      return null;
    }
    this.s.setNext.run(next.getTime(), n);
    if (!keepLease) this.s.endLease.run(n);
    return null;
  }

  renew(id: string, token: string, leaseMs: number): null {
    this.s.renew.run(Date.now() + leaseMs, this.held(id, token));
    return null;
  }

  release(id: string, token: string): null {
    const n = parseQueueId(id);
    const l = n === undefined ? undefined : (this.s.leaseOf.get(n) as { token: string | null } | undefined);
    if (n !== undefined && l && l.token === token) this.s.endLease.run(n);
    return null;
  }

  retry(id: string | undefined, now: number): number {
    if (id === undefined) {
      const ids = this.s.retriedIds.all(now) as number[];
      this.s.retryAll.run(now, now);
      for (const q of ids) this.s.setNext.run(now, q);
      return ids.length;
    }
    const n = parseQueueId(id);
    if (n === undefined || !this.s.exists.get(n))
      throw new StoreError('not-found', `no such queue entry: ${id}`);
    const changed = this.s.retryOne.run(now, n, now).changes;
    if (changed > 0) this.s.setNext.run(now, n);
    return changed > 0 ? 1 : 0;
  }

  remove(id: string): null {
    const n = parseQueueId(id);
    if (n === undefined || !this.s.exists.get(n))
      throw new StoreError('not-found', `no such queue entry: ${id}`);
    this.removeRow(n);
    return null;
  }

  private removeRow(n: number) {
    const blobId = this.s.blobOf.get(n) as number;
    this.s.delete.run(n);
    this.s.blobFreeIfUnused.run(blobId);
  }
}

/** The main thread's queue reads. */
export class QueueReader {
  private readonly s;
  private readonly load;

  constructor(db: Database.Database) {
    this.load = loaders(db);
    this.s = {
      list: db.prepare(
        `SELECT ${QUEUE_ENTRY_COLS} FROM queue q JOIN blobs b ON b.id = q.blob_id ORDER BY q.next_attempt_at, q.id LIMIT ?`,
      ),
      blob: db.prepare(
        'SELECT q.blob_id AS blobId, b.size FROM queue q JOIN blobs b ON b.id = q.blob_id WHERE q.id = ?',
      ),
      count: db.prepare(
        `SELECT (SELECT count(*) FROM queue) AS entries, (SELECT count(*) FROM queue_recipients WHERE state = 'pending') AS pending`,
      ),
    };
  }

  list(limit: number): QueueEntry[] {
    return (this.s.list.all(limit) as EntryRow[]).map((r) =>
      toEntry(r, (this.load.recipients.all(r.id) as RecipientRow[]).map(fromRow)),
    );
  }

  get(id: string): QueueEntry | undefined {
    const n = parseQueueId(id);
    const r = n === undefined ? undefined : (this.load.entry.get(n) as EntryRow | undefined);
    return r && toEntry(r, (this.load.recipients.all(r.id) as RecipientRow[]).map(fromRow));
  }

  blob(id: string): { blobId: number; size: number } | undefined {
    const n = parseQueueId(id);
    return n === undefined ? undefined : (this.s.blob.get(n) as { blobId: number; size: number } | undefined);
  }

  count(): { entries: number; pendingRecipients: number } {
    const r = this.s.count.get() as { entries: number; pending: number };
    return { entries: r.entries, pendingRecipients: r.pending };
  }
}

/**
 * Vacation auto-replies and the sent-mail delivery status in SQLite (contract in ../types.ts):
 * schema step 3, the writer-side operations (writer thread, inside its batch transaction) and the
 * reads (main thread, read-only connection). Rows go with their user or message through foreign
 * keys. A reply claim is one upsert whose WHERE only lets a reply older than the window be
 * replaced, so two deliveries racing for one sender cannot both win (one SQLite writer at a time).
 */
import type Database from 'better-sqlite3';
import { type OutcomeRow, toOutcome, toVacation, VACATION_COLS, type VacationRow } from '../rows.js';
import type { QueueAttemptResult, QueueOutcome, SentLink, VacationRecord } from '../types.js';
import { StoreError } from '../types.js';
import { OUTCOME_KEEP_MS } from '../vacation-rules.js';

export const FEATURES_MIGRATION_SQL = `
  CREATE TABLE vacation (
    user_id       INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    enabled       INTEGER NOT NULL,
    subject       TEXT NOT NULL,
    body          TEXT NOT NULL,
    interval_days INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
  );
  CREATE TABLE vacation_replies (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sender     TEXT NOT NULL,                -- lower-cased envelope sender
    replied_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, sender)
  ) WITHOUT ROWID;
  CREATE TABLE sent_links (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    link       TEXT NOT NULL                 -- JSON SentLink
  );
  -- Final outcomes of queue recipients, kept after the entry is gone; queue ids may be reused,
  -- so the entry's sha256 is part of the key.
  CREATE TABLE queue_outcomes (
    queue_id INTEGER NOT NULL,
    sha256   TEXT NOT NULL,
    idx      INTEGER NOT NULL,
    address  TEXT NOT NULL,
    state    TEXT NOT NULL,                  -- delivered | failed
    last     TEXT,                           -- JSON QueueAttemptResult
    at       INTEGER NOT NULL,
    PRIMARY KEY (queue_id, sha256, idx)
  );
  CREATE INDEX queue_outcomes_at ON queue_outcomes(at);
`;

/** The writer thread's side. */
export class FeaturesWriter {
  private readonly s;

  constructor(db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      userExists: p('SELECT 1 FROM users WHERE id = ?').pluck(),
      messageExists: p('SELECT 1 FROM messages WHERE id = ?').pluck(),
      vacationSet: p(`INSERT INTO vacation (${VACATION_COLS}) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (user_id) DO UPDATE SET enabled = excluded.enabled, subject = excluded.subject,
          body = excluded.body, interval_days = excluded.interval_days, updated_at = excluded.updated_at`),
      repliesClear: p('DELETE FROM vacation_replies WHERE user_id = ?'),
      claim: p(`INSERT INTO vacation_replies (user_id, sender, replied_at) VALUES (?, ?, ?)
        ON CONFLICT (user_id, sender) DO UPDATE SET replied_at = excluded.replied_at
        WHERE vacation_replies.replied_at <= ?`),
      repliesPrune: p('DELETE FROM vacation_replies WHERE user_id = ? AND replied_at <= ?'),
      linkSet: p('INSERT OR REPLACE INTO sent_links (message_id, link) VALUES (?, ?)'),
      outcomesPrune: p('DELETE FROM queue_outcomes WHERE at < ?'),
      outcomeSet: p(`INSERT OR REPLACE INTO queue_outcomes (queue_id, sha256, idx, address, state, last, at)
        VALUES (?, ?, ?, ?, ?, ?, ?)`),
    };
  }

  vacationSet(userId: number, v: Omit<VacationRecord, 'updatedAt'>, now: number): number {
    if (!this.s.userExists.get(userId)) throw new StoreError('not-found', `no user with id ${userId}`);
    this.s.vacationSet.run(userId, v.enabled ? 1 : 0, v.subject, v.text, v.intervalDays, now);
    this.s.repliesClear.run(userId);
    return now;
  }

  claim(userId: number, sender: string, now: number, since: number): boolean {
    if (!this.s.userExists.get(userId)) throw new StoreError('not-found', `no user with id ${userId}`);
    // Senders whose window has passed are forgotten first, so the table stays small.
    this.s.repliesPrune.run(userId, since);
    return this.s.claim.run(userId, sender, now, since).changes > 0;
  }

  link(messageId: number, link: SentLink): null {
    if (!this.s.messageExists.get(messageId))
      throw new StoreError('not-found', `no such message: ${messageId}`);
    this.s.linkSet.run(messageId, JSON.stringify(link));
    return null;
  }

  record(outcomes: QueueOutcome[], now: number): null {
    this.s.outcomesPrune.run(now - OUTCOME_KEEP_MS);
    for (const o of outcomes) {
      this.s.outcomeSet.run(
        Number(o.queueId),
        o.sha256,
        o.index,
        o.address,
        o.state,
        o.result ? JSON.stringify(o.result) : null,
        o.at.getTime(),
      );
    }
    return null;
  }
}

/** The main thread's reads. */
export class FeaturesReader {
  private readonly s;

  constructor(db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      vacation: p(`SELECT ${VACATION_COLS} FROM vacation WHERE user_id = ?`),
      link: p('SELECT link FROM sent_links WHERE message_id = ?').pluck(),
      outcomes: p('SELECT * FROM queue_outcomes WHERE queue_id = ? AND sha256 = ? ORDER BY idx'),
    };
  }

  vacation(userId: number): VacationRecord | undefined {
    const r = this.s.vacation.get(userId) as VacationRow | undefined;
    return r && toVacation(r);
  }

  link(messageId: number): SentLink | undefined {
    const r = this.s.link.get(messageId) as string | undefined;
    return r === undefined ? undefined : (JSON.parse(r) as SentLink);
  }

  outcomes(queueId: number, sha256: string): QueueOutcome[] {
    return (this.s.outcomes.all(queueId, sha256) as OutcomeRow<string>[]).map((r) =>
      toOutcome(r, (last) => JSON.parse(last) as QueueAttemptResult),
    );
  }
}

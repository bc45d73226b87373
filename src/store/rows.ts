/**
 * Row shapes that the SQL backends (SQLite, PostgreSQL) share — their schemas name these columns
 * alike — and their mapping to the Store types, so both backends answer with the same values.
 */
import type {
  Mailbox,
  MessageMeta,
  QueueAttemptResult,
  QueueOutcome,
  QueueRecipient,
  VacationRecord,
} from './types.js';

export interface MessageRow {
  id: number;
  mailbox_id: number;
  uid: number;
  size: number;
  flags: string;
  received_at: number;
  sha256: string;
}

export interface MailboxRow {
  id: number;
  user_id: number;
  name: string;
  uid_validity: number;
  uid_next: number;
}

/** Columns for MessageRow: `m` is the mailbox entry, `b` its blob. */
export const MESSAGE_COLS = 'm.id, m.mailbox_id, m.uid, b.size, m.flags, m.received_at, b.sha256';
export const MAILBOX_COLS = 'id, user_id, name, uid_validity, uid_next';

export const toMessage = (r: MessageRow): MessageMeta => ({
  id: String(r.id),
  mailboxId: r.mailbox_id,
  uid: r.uid,
  size: r.size,
  flags: r.flags === '' ? [] : r.flags.split(' '),
  receivedAt: new Date(r.received_at),
  sha256: r.sha256,
});

export const toMailbox = (r: MailboxRow): Mailbox => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  uidValidity: r.uid_validity,
  uidNext: r.uid_next,
});

/** Message and queue ids are decimal row ids; anything else names nothing. */
export function parseRowId(id: string): number | undefined {
  return /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : undefined;
}
export const parseMessageId = parseRowId;
export const parseQueueId = parseRowId;

/** The row ids among message ids, in order; the others name no message and are left out. */
export function parseMessageIds(ids: string[]): number[] {
  return ids.map(parseRowId).filter((n): n is number => n !== undefined);
}

/**
 * MessageRepo.readSmall's cut, for every backend: the messages in the order given until their
 * bytes would pass `budget`; the first always comes. Stops reading `found` at the cut.
 */
export function withinBudget(
  found: Iterable<readonly [string | number, Uint8Array]>,
  budget: number,
): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let total = 0;
  for (const [id, data] of found) {
    if (out.size > 0 && total + data.byteLength > budget) break;
    total += data.byteLength;
    out.set(String(id), data);
  }
  return out;
}

/** Columns of a queue entry (`q`) with its blob (`b`). */
export const QUEUE_ENTRY_COLS = `q.id, q.blob_id, q.mail_from, q.ret, q.envid, q.body8bit, q.smtputf8, q.created_at,
  q.expires_at, q.next_attempt_at, q.lease_owner, q.lease_token, q.lease_until, b.size, b.sha256, b.envelope`;

/** A queue recipient row; `last` is JSON text in SQLite and already decoded (jsonb) in PostgreSQL. */
export interface RecipientRow<Last> {
  idx: number;
  address: string;
  orcpt: string | null;
  notify: string | null;
  state: string;
  attempts: number;
  next_attempt_at: number;
  last_attempt_at: number | null;
  last: Last | null;
}

export function toRecipient<Last>(
  r: RecipientRow<Last>,
  decodeLast: (last: Last) => QueueRecipient['last'],
): QueueRecipient {
  const out: QueueRecipient = {
    index: r.idx,
    address: r.address,
    state: r.state as QueueRecipient['state'],
    attempts: r.attempts,
    nextAttemptAt: new Date(r.next_attempt_at),
  };
  if (r.orcpt !== null) out.orcpt = r.orcpt;
  if (r.notify !== null) out.notify = r.notify.split(',') as QueueRecipient['notify'];
  if (r.last_attempt_at !== null) out.lastAttemptAt = new Date(r.last_attempt_at);
  if (r.last !== null) out.last = decodeLast(r.last);
  return out;
}

/** Vacation settings: SQLite keeps `enabled` as 0/1, PostgreSQL as a boolean. */
export interface VacationRow {
  user_id: number;
  enabled: number | boolean;
  subject: string;
  body: string;
  interval_days: number;
  updated_at: number;
}

export const VACATION_COLS = 'user_id, enabled, subject, body, interval_days, updated_at';

export const toVacation = (r: VacationRow): VacationRecord => ({
  enabled: Boolean(r.enabled),
  subject: r.subject,
  text: r.body,
  intervalDays: r.interval_days,
  updatedAt: new Date(Number(r.updated_at)),
});

/** A kept queue outcome; `last` is JSON text in SQLite and already parsed (jsonb) in PostgreSQL. */
export interface OutcomeRow<Last> {
  queue_id: number;
  sha256: string;
  idx: number;
  address: string;
  state: string;
  last: Last | null;
  at: number;
}

export function toOutcome<Last>(
  r: OutcomeRow<Last>,
  decodeLast: (last: Last) => QueueAttemptResult,
): QueueOutcome {
  return {
    queueId: String(r.queue_id),
    sha256: r.sha256,
    index: r.idx,
    address: r.address,
    state: r.state as QueueOutcome['state'],
    ...(r.last ? { result: decodeLast(r.last) } : {}),
    at: new Date(Number(r.at)),
  };
}

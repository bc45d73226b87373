/**
 * Row shapes that the SQL backends (SQLite, PostgreSQL) share — their schemas name these columns
 * alike — and their mapping to the Store types, so both backends answer with the same values.
 */
import type { Mailbox, MessageMeta } from './types.js';

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

/** Message ids are decimal row ids; anything else names no message. */
export function parseMessageId(id: string): number | undefined {
  return /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : undefined;
}

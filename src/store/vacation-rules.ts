/**
 * Rules of vacation auto-replies and of the sent-mail delivery status shared by every store
 * backend: the limits, validation of what is saved, and the key a sender is remembered by. Pure;
 * nothing here does I/O. Bad input is refused with StoreError('invalid').
 */
import { MAX_ADDRESS_LENGTH } from './names.js';
import {
  type QueueOutcome,
  type SentLink,
  StoreError,
  type VacationRecord,
  type VacationSettings,
} from './types.js';

/** "Once per sender per N days" (RFC 3834 §3.1.1 asks for a period; 7 days is the usual one). */
export const VACATION_DEFAULT_DAYS = 7;
export const VACATION_MIN_DAYS = 1;
export const VACATION_MAX_DAYS = 365;
/** The reply text, UTF-8 octets: an auto-reply is a note, not a newsletter. */
export const MAX_VACATION_TEXT_BYTES = 64 * 1024;
/** The reply subject, characters (one header line stays under RFC 5322's 998 once encoded). */
export const MAX_VACATION_SUBJECT = 200;
/** Recipients of one sent message that a link records (above SMTP's configurable RCPT limit). */
export const MAX_SENT_RECIPIENTS = 1000;
/** Remote destinations of one sent message (aliases and forwards expand recipients). */
export const MAX_SENT_DESTINATIONS = 10_000;
/** How long final queue outcomes are kept for the sender to see (the queue forgets at once). */
export const OUTCOME_KEEP_MS = 30 * 24 * 3600_000;

const CONTROL = /[\x00-\x1f\x7f]/;

/** Checks and copies vacation settings. */
export function validateVacation(v: VacationSettings): VacationSettings {
  if (typeof v !== 'object' || v === null) throw new StoreError('invalid', 'vacation settings missing');
  if (typeof v.enabled !== 'boolean')
    throw new StoreError('invalid', 'vacation: enabled must be true or false');
  if (typeof v.subject !== 'string' || v.subject.length > MAX_VACATION_SUBJECT || CONTROL.test(v.subject))
    throw new StoreError(
      'invalid',
      `vacation: subject must be one line of at most ${MAX_VACATION_SUBJECT} characters`,
    );
  if (
    typeof v.text !== 'string' ||
    Buffer.byteLength(v.text) > MAX_VACATION_TEXT_BYTES ||
    v.text.includes('\0')
  )
    throw new StoreError('invalid', `vacation: text must be at most ${MAX_VACATION_TEXT_BYTES} bytes`);
  if (v.enabled && v.text.trim() === '')
    throw new StoreError('invalid', 'vacation: an enabled reply needs a text');
  if (
    !Number.isInteger(v.intervalDays) ||
    v.intervalDays < VACATION_MIN_DAYS ||
    v.intervalDays > VACATION_MAX_DAYS
  )
    throw new StoreError(
      'invalid',
      `vacation: intervalDays must be a whole number from ${VACATION_MIN_DAYS} to ${VACATION_MAX_DAYS}`,
    );
  return { enabled: v.enabled, subject: v.subject, text: v.text, intervalDays: v.intervalDays };
}

/** How a replied-to sender is remembered: the whole address lower-cased. */
export function senderKey(sender: string): string {
  const k = sender.trim().toLowerCase();
  if (k === '' || k.length > MAX_ADDRESS_LENGTH || CONTROL.test(k) || !k.includes('@'))
    throw new StoreError('invalid', `bad sender address: ${JSON.stringify(sender.slice(0, 80))}`);
  return k;
}

/** `ms` of a claim window, checked. */
export function claimWindow(now: Date, intervalMs: number): number {
  if (!(now instanceof Date) || Number.isNaN(now.getTime()) || !Number.isFinite(intervalMs) || intervalMs < 0)
    throw new StoreError('invalid', 'bad reply time or interval');
  return now.getTime() - intervalMs;
}

const SHA256 = /^[0-9a-f]{64}$/;
const ROW_ID = /^[1-9][0-9]{0,15}$/;

/** Checks and copies a sent link. */
export function validateSentLink(link: SentLink): SentLink {
  if (
    typeof link !== 'object' ||
    link === null ||
    !SHA256.test(link.sha256) ||
    !Array.isArray(link.recipients)
  )
    throw new StoreError('invalid', 'bad sent link');
  if (link.recipients.length > MAX_SENT_RECIPIENTS)
    throw new StoreError('invalid', `more than ${MAX_SENT_RECIPIENTS} recipients in one sent link`);
  let destinations = 0;
  const recipients = link.recipients.map((r) => {
    const address = String(r.address);
    if (address.length > MAX_ADDRESS_LENGTH || CONTROL.test(address) || !Array.isArray(r.queued))
      throw new StoreError('invalid', 'bad recipient in a sent link');
    destinations += r.queued.length;
    if (destinations > MAX_SENT_DESTINATIONS)
      throw new StoreError('invalid', `more than ${MAX_SENT_DESTINATIONS} destinations in one sent link`);
    return {
      address,
      local: r.local === true,
      queued: r.queued.map((q) => {
        if (!ROW_ID.test(q.queueId) || !Number.isInteger(q.index) || q.index < 0)
          throw new StoreError('invalid', 'bad queue reference in a sent link');
        return {
          queueId: q.queueId,
          index: q.index,
          address: String(q.address).slice(0, MAX_ADDRESS_LENGTH),
        };
      }),
    };
  });
  return { sha256: link.sha256, recipients };
}

/** Checks and copies queue outcomes. */
export function validateOutcomes(list: QueueOutcome[]): QueueOutcome[] {
  return list.map((o) => {
    if (
      !ROW_ID.test(o.queueId) ||
      !SHA256.test(o.sha256) ||
      !Number.isInteger(o.index) ||
      o.index < 0 ||
      (o.state !== 'delivered' && o.state !== 'failed') ||
      !(o.at instanceof Date) ||
      Number.isNaN(o.at.getTime())
    )
      throw new StoreError('invalid', 'bad queue outcome');
    const c: QueueOutcome = {
      queueId: o.queueId,
      sha256: o.sha256,
      index: o.index,
      address: String(o.address).slice(0, MAX_ADDRESS_LENGTH),
      state: o.state,
      at: new Date(o.at),
    };
    if (o.result) c.result = { ...o.result };
    return c;
  });
}

/**
 * Which of `userIds` have their auto-reply on, asked after every delivery; `get` is the backend's
 * per-user lookup, which its account cache answers without a database round trip.
 */
export async function activeVacations(
  userIds: number[],
  get: (userId: number) => Promise<VacationRecord | undefined>,
): Promise<Map<number, VacationRecord>> {
  const on = new Map<number, VacationRecord>();
  for (const id of userIds) {
    const v = await get(id);
    if (v?.enabled) on.set(id, v);
  }
  return on;
}

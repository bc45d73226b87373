/**
 * Rules of the outbound queue shared by every store backend (the contract is in ../types.ts):
 * validation of queue inputs at delivery time, and how a recipient update changes an entry. Pure;
 * no I/O. (It sits beside the memory store because that folder is the reference implementation;
 * the SQLite store imports it too.)
 */
import { normalizeAddress } from '../names.js';
import {
  type DsnNotify,
  type QueueEntryInput,
  type QueueRecipient,
  type QueueRecipientUpdate,
  StoreError,
} from '../types.js';

/** Recipients per queue entry: RFC 5321 §4.5.3.1.8 asks servers to take at least 100. */
export const MAX_QUEUE_RECIPIENTS = 10_000;

const NOTIFY: readonly DsnNotify[] = ['SUCCESS', 'FAILURE', 'DELAY', 'NEVER'];

/** Checks and copies queue inputs; StoreError('invalid') for anything malformed. */
export function validateQueueInputs(inputs: readonly QueueEntryInput[] | undefined): QueueEntryInput[] {
  if (!inputs) return [];
  return inputs.map((q) => {
    if (q.mailFrom !== '') normalizeAddress(q.mailFrom);
    if (/[\r\n\0]/.test(q.mailFrom)) throw new StoreError('invalid', 'bad reverse path');
    if (q.recipients.length === 0)
      throw new StoreError('invalid', 'a queue entry needs at least one recipient');
    if (q.recipients.length > MAX_QUEUE_RECIPIENTS)
      throw new StoreError('invalid', `more than ${MAX_QUEUE_RECIPIENTS} recipients in one queue entry`);
    if (!(q.expiresAt instanceof Date) || Number.isNaN(q.expiresAt.getTime()))
      throw new StoreError('invalid', 'a queue entry needs expiresAt');
    return {
      ...q,
      recipients: q.recipients.map((r) => {
        normalizeAddress(r.address);
        if (/[\r\n\0]/.test(r.address + (r.orcpt ?? '')))
          throw new StoreError('invalid', `bad recipient: ${JSON.stringify(r.address)}`);
        for (const n of r.notify ?? [])
          if (!NOTIFY.includes(n)) throw new StoreError('invalid', `bad NOTIFY value: ${n}`);
        return { ...r, ...(r.notify ? { notify: [...r.notify] } : {}) };
      }),
    };
  });
}

/** The recipients of a new entry. */
export function newRecipients(q: QueueEntryInput, now: Date): QueueRecipient[] {
  const next = q.nextAttemptAt ?? now;
  return q.recipients.map((r, index) => ({
    ...r,
    index,
    state: 'pending',
    attempts: 0,
    nextAttemptAt: new Date(next),
  }));
}

/** Applies updates to copies of the recipients; StoreError('invalid') for an unknown index. */
export function applyUpdates(
  recipients: readonly QueueRecipient[],
  updates: readonly QueueRecipientUpdate[],
  now: Date,
): QueueRecipient[] {
  const out = recipients.map((r) => ({ ...r }));
  for (const u of updates) {
    const r = out[u.index];
    if (!r) throw new StoreError('invalid', `no recipient ${u.index} in this entry`);
    if (r.state !== 'pending') continue; // final states never change back
    r.state = u.state;
    if (u.attempted !== false) {
      r.attempts++;
      r.lastAttemptAt = new Date(now);
    }
    if (u.result) r.last = { ...u.result };
    if (u.state === 'pending' && u.nextAttemptAt) r.nextAttemptAt = new Date(u.nextAttemptAt);
  }
  return out;
}

/** Earliest attempt time over pending recipients; undefined when none is pending. */
export function nextDue(recipients: readonly QueueRecipient[]): Date | undefined {
  let t: number | undefined;
  for (const r of recipients) {
    if (r.state !== 'pending') continue;
    const v = r.nextAttemptAt.getTime();
    if (t === undefined || v < t) t = v;
  }
  return t === undefined ? undefined : new Date(t);
}

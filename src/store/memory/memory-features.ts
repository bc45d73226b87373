/**
 * The in-memory vacation and sent-status repositories (contract in ../types.ts): plain maps. The
 * store calls `forgetUser` / `forgetMessage` when it removes a user or a message, as the SQL
 * backends' foreign keys do.
 */
import {
  type QueueOutcome,
  type SentLink,
  type SentStatusRepo,
  StoreError,
  type VacationRecord,
  type VacationRepo,
} from '../types.js';
import {
  claimWindow,
  OUTCOME_KEEP_MS,
  senderKey,
  validateOutcomes,
  validateSentLink,
  validateVacation,
} from '../vacation-rules.js';

export interface MemoryFeatures {
  vacation: VacationRepo;
  sent: SentStatusRepo;
  forgetUser(userId: number): void;
  forgetMessage(messageId: string): void;
}

const copyVacation = (v: VacationRecord): VacationRecord => ({ ...v, updatedAt: new Date(v.updatedAt) });

export function createMemoryFeatures(opts: {
  live: () => void;
  hasUser: (id: number) => boolean;
  hasMessage: (id: string) => boolean;
}): MemoryFeatures {
  const vacations = new Map<number, VacationRecord>();
  /** user id → sender key → last reply (ms). */
  const replies = new Map<number, Map<string, number>>();
  const links = new Map<string, SentLink>();
  /** `queueId/sha256` → index → outcome. */
  const outcomes = new Map<string, Map<number, QueueOutcome>>();
  const run = async <T>(fn: () => T): Promise<T> => {
    opts.live();
    return fn();
  };

  const vacation: VacationRepo = {
    get: (userId) =>
      run(() => {
        const v = vacations.get(userId);
        return v && copyVacation(v);
      }),
    set: (userId, settings) =>
      run(() => {
        const v = validateVacation(settings);
        if (!opts.hasUser(userId)) throw new StoreError('not-found', `no user with id ${userId}`);
        const rec = { ...v, updatedAt: new Date() };
        vacations.set(userId, rec);
        replies.delete(userId);
        return copyVacation(rec);
      }),
    active: (userIds) =>
      run(() => {
        const out = new Map<number, VacationRecord>();
        for (const id of userIds) {
          const v = vacations.get(id);
          if (v?.enabled) out.set(id, copyVacation(v));
        }
        return out;
      }),
    claimReply: (userId, sender, now, intervalMs) =>
      run(() => {
        const key = senderKey(sender);
        const since = claimWindow(now, intervalMs);
        if (!opts.hasUser(userId)) throw new StoreError('not-found', `no user with id ${userId}`);
        let m = replies.get(userId);
        if (!m) replies.set(userId, (m = new Map()));
        const last = m.get(key);
        if (last !== undefined && last > since) return false;
        m.set(key, now.getTime());
        // Forget senders whose window has passed, so the table stays as small as the SQL ones.
        for (const [k, at] of m) if (at <= since) m.delete(k);
        return true;
      }),
  };

  const sent: SentStatusRepo = {
    link: (messageId, link) =>
      run(() => {
        const l = validateSentLink(link);
        if (!opts.hasMessage(messageId)) throw new StoreError('not-found', `no such message: ${messageId}`);
        links.set(messageId, l);
      }),
    get: (messageId) =>
      run(() => {
        const l = links.get(messageId);
        return l && structuredClone(l);
      }),
    record: (list, now = new Date()) =>
      run(() => {
        const valid = validateOutcomes(list);
        const cutoff = now.getTime() - OUTCOME_KEEP_MS;
        for (const [k, m] of outcomes) {
          for (const [i, o] of m) if (o.at.getTime() < cutoff) m.delete(i);
          if (m.size === 0) outcomes.delete(k);
        }
        for (const o of valid) {
          const k = `${o.queueId}/${o.sha256}`;
          let m = outcomes.get(k);
          if (!m) outcomes.set(k, (m = new Map()));
          m.set(o.index, o);
        }
      }),
    outcomes: (queueId, sha256) =>
      run(() =>
        [...(outcomes.get(`${queueId}/${sha256}`)?.values() ?? [])]
          .sort((a, b) => a.index - b.index)
          .map((o) => structuredClone(o)),
      ),
  };

  return {
    vacation,
    sent,
    forgetUser: (userId) => {
      vacations.delete(userId);
      replies.delete(userId);
    },
    forgetMessage: (messageId) => {
      links.delete(messageId);
    },
  };
}

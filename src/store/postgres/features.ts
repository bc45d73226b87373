/**
 * Vacation auto-replies and the sent-mail delivery status in PostgreSQL (contract in ../types.ts;
 * tables of schema step 4, the same as SQLite's). A reply claim is one `INSERT … ON CONFLICT DO
 * UPDATE … WHERE` on the (user, sender) row: PostgreSQL locks the row for the upsert, so two nodes
 * answering the same sender at once cannot both win.
 */
import {
  type OutcomeRow,
  parseMessageId,
  parseQueueId,
  toOutcome,
  toVacation,
  VACATION_COLS,
  type VacationRow,
} from '../rows.js';
import type { QueueAttemptResult, SentLink, Store } from '../types.js';
import { StoreError } from '../types.js';
import {
  activeVacations,
  claimWindow,
  OUTCOME_KEEP_MS,
  senderKey,
  validateOutcomes,
  validateSentLink,
  validateVacation,
} from '../vacation-rules.js';
import type { RepoContext } from './context.js';

const noUser = (id: number) => new StoreError('not-found', `no user with id ${id}`);

export function createFeatureRepos(x: RepoContext): Pick<Store, 'vacation' | 'sent'> {
  const { q, tx, live, cache, accountTx } = x;
  const get = (userId: number) =>
    cache.get(`v:${userId}`, async () => {
      const r = await q<VacationRow>(`SELECT ${VACATION_COLS} FROM vacation WHERE user_id = $1`, [userId]);
      return r[0] && toVacation(r[0]);
    });
  return {
    vacation: {
      get,
      set: async (userId, settings) => {
        live();
        const v = validateVacation(settings);
        const now = Date.now();
        // An account write: every node's cache of vacation settings is emptied once it commits.
        await accountTx(async (c) => {
          if ((await c.query('SELECT 1 FROM users WHERE id = $1', [userId])).rowCount === 0)
            throw noUser(userId);
          await c.query(
            `INSERT INTO vacation (${VACATION_COLS}) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (user_id) DO UPDATE SET enabled = EXCLUDED.enabled, subject = EXCLUDED.subject,
               body = EXCLUDED.body, interval_days = EXCLUDED.interval_days, updated_at = EXCLUDED.updated_at`,
            [userId, v.enabled, v.subject, v.text, v.intervalDays, now],
          );
          await c.query('DELETE FROM vacation_replies WHERE user_id = $1', [userId]);
        });
        return { ...v, updatedAt: new Date(now) };
      },
      // Asked after every delivery: answered from the account cache (set() notifies every node).
      active: (userIds) => activeVacations(userIds, get),
      claimReply: async (userId, sender, now, intervalMs) => {
        live();
        const key = senderKey(sender);
        const since = claimWindow(now, intervalMs);
        return tx(async (c) => {
          if ((await c.query('SELECT 1 FROM users WHERE id = $1', [userId])).rowCount === 0)
            throw noUser(userId);
          // Senders whose window has passed are forgotten first, so the table stays small.
          await c.query(
            'DELETE FROM vacation_replies WHERE user_id = $1 AND replied_at <= $2 AND sender <> $3',
            [userId, since, key],
          );
          const r = await c.query(
            `INSERT INTO vacation_replies (user_id, sender, replied_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, sender) DO UPDATE SET replied_at = EXCLUDED.replied_at
             WHERE vacation_replies.replied_at <= $4 RETURNING 1`,
            [userId, key, now.getTime(), since],
          );
          return r.rowCount === 1;
        });
      },
    },

    sent: {
      link: async (id, link) => {
        live();
        const l = validateSentLink(link);
        const n = parseMessageId(id);
        const r =
          n === undefined
            ? []
            : await q(
                `INSERT INTO sent_links (message_id, link) SELECT $1, $2::jsonb
                 WHERE EXISTS (SELECT 1 FROM messages WHERE id = $1)
                 ON CONFLICT (message_id) DO UPDATE SET link = EXCLUDED.link RETURNING 1`,
                [n, JSON.stringify(l)],
              );
        if (r.length === 0) throw new StoreError('not-found', `no such message: ${id}`);
      },
      get: async (id) => {
        const n = parseMessageId(id);
        if (n === undefined) return undefined;
        const r = await q<{ link: SentLink }>('SELECT link FROM sent_links WHERE message_id = $1', [n]);
        // jsonb does not keep key order; give the link back in the order every backend uses.
        return r[0] && validateSentLink(r[0].link);
      },
      record: async (outcomes, now) => {
        live();
        const list = validateOutcomes(outcomes);
        const cutoff = (now ?? new Date()).getTime() - OUTCOME_KEEP_MS;
        await tx(async (c) => {
          await c.query('DELETE FROM queue_outcomes WHERE at < $1', [cutoff]);
          if (list.length === 0) return;
          await c.query(
            `INSERT INTO queue_outcomes (queue_id, sha256, idx, address, state, last, at)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::text[], $6::jsonb[], $7::bigint[])
             ON CONFLICT (queue_id, sha256, idx) DO UPDATE SET address = EXCLUDED.address,
               state = EXCLUDED.state, last = EXCLUDED.last, at = EXCLUDED.at`,
            [
              list.map((o) => Number(o.queueId)),
              list.map((o) => o.sha256),
              list.map((o) => o.index),
              list.map((o) => o.address),
              list.map((o) => o.state),
              list.map((o) => (o.result ? JSON.stringify(o.result) : null)),
              list.map((o) => o.at.getTime()),
            ],
          );
        });
      },
      outcomes: async (queueId, sha256) => {
        const n = parseQueueId(queueId);
        if (n === undefined) return [];
        const rows = await q<OutcomeRow<QueueAttemptResult>>(
          'SELECT * FROM queue_outcomes WHERE queue_id = $1 AND sha256 = $2 ORDER BY idx',
          [n, sha256],
        );
        return rows.map((r) => toOutcome(r, (last) => last));
      },
    },
  };
}

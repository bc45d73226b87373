/**
 * Delivery status of a sent message: `GET /api/messages/:id/delivery` answers, for each recipient
 * of a message sent from the webmail (its Sent copy carries the link, store.sent), where it is:
 * - `delivered`: into a local mailbox at once, or accepted by the remote server (its reply);
 * - `queued`: waiting for its first attempt; `deferred`: tried, refused for now (the last reply,
 *   the next attempt);
 * - `bounced`: refused for good by the remote server (its reply); `failed`: given up for another
 *   reason (no such domain, delivery time expired...);
 * - `unknown`: the queue entry is gone and no outcome was kept (removed by an administrator, or
 *   finished longer ago than the store keeps outcomes).
 * Another user's message is 404, like every message route; a message without a link (received,
 * or sent before links existed) answers `tracked: false`.
 */
import type { FastifyInstance } from 'fastify';
import type { QueueAttemptResult, QueueEntry, QueueOutcome, SentLink } from '../store/types.js';
import { caller, notFound, type WebContext } from './context.js';

export type DeliveryState = 'delivered' | 'queued' | 'deferred' | 'bounced' | 'failed' | 'unknown';

export interface DeliveryRow {
  /** As the sender addressed it. */
  address: string;
  /** Where it went when that differs (an alias or forward of a local address expanded). */
  target?: string;
  local: boolean;
  state: DeliveryState;
  /** RFC 3463 status of the last attempt. */
  status?: string;
  /** The remote reply or our reason. */
  reply?: string;
  remoteMta?: string;
  attempts?: number;
  nextAttemptAt?: string;
  /** When the last attempt was made (or the outcome recorded). */
  at?: string;
}

/** Refused by the remote server itself (an SMTP 5xx), as against given up for another reason. */
const finalState = (result: QueueAttemptResult | undefined): DeliveryState =>
  result?.diagnosticType === 'smtp' && result.status.startsWith('5') ? 'bounced' : 'failed';

function withResult(row: DeliveryRow, result: QueueAttemptResult | undefined): DeliveryRow {
  if (!result) return row;
  row.status = result.status;
  row.reply = result.diagnostic;
  if (result.remoteMta) row.remoteMta = result.remoteMta;
  return row;
}

/** The rows of one link: live queue entries first, then kept outcomes, else `unknown`. */
export async function deliveryRows(ctx: WebContext, link: SentLink): Promise<DeliveryRow[]> {
  const entries = new Map<string, QueueEntry | undefined>();
  const kept = new Map<string, QueueOutcome[]>();
  const rows: DeliveryRow[] = [];
  for (const r of link.recipients) {
    if (r.local) rows.push({ address: r.address, local: true, state: 'delivered' });
    for (const q of r.queued) {
      const row: DeliveryRow = { address: r.address, local: false, state: 'unknown' };
      if (q.address.toLowerCase() !== r.address.toLowerCase()) row.target = q.address;
      rows.push(row);
      if (!entries.has(q.queueId)) {
        const e = await ctx.store.queue.get(q.queueId);
        // A reused queue id belongs to another message: the bytes' hash tells.
        entries.set(q.queueId, e?.sha256 === link.sha256 ? e : undefined);
      }
      const rcpt = entries.get(q.queueId)?.recipients[q.index];
      if (rcpt) {
        row.attempts = rcpt.attempts;
        if (rcpt.lastAttemptAt) row.at = rcpt.lastAttemptAt.toISOString();
        withResult(row, rcpt.last);
        if (rcpt.state === 'pending') {
          row.state = rcpt.attempts > 0 || rcpt.last ? 'deferred' : 'queued';
          row.nextAttemptAt = rcpt.nextAttemptAt.toISOString();
        } else row.state = rcpt.state === 'delivered' ? 'delivered' : finalState(rcpt.last);
        continue;
      }
      if (!kept.has(q.queueId)) kept.set(q.queueId, await ctx.store.sent.outcomes(q.queueId, link.sha256));
      const o = kept.get(q.queueId)!.find((x) => x.index === q.index);
      if (o) {
        row.state = o.state === 'delivered' ? 'delivered' : finalState(o.result);
        row.at = o.at.toISOString();
        withResult(row, o.result);
      }
    }
  }
  return rows;
}

export function deliveryRoutes(app: FastifyInstance, ctx: WebContext): void {
  app.get('/api/messages/:id/delivery', async (req) => {
    const { user } = caller(req);
    const m = await ctx.reader.owned(user.id, (req.params as { id: string }).id);
    if (!m) throw notFound('no such message');
    const link = await ctx.store.sent.get(m.meta.id);
    if (!link) return { tracked: false, recipients: [] };
    return { tracked: true, recipients: await deliveryRows(ctx, link) };
  });
}

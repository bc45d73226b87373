/**
 * The queue runner: claims due queue entries from the store (a lease, so several nodes can work
 * one queue and a crashed node's claims expire), groups each entry's due recipients by domain
 * (one transaction per domain carrying all of its recipients), routes and delivers them
 * (routing.ts, deliver.ts) and records each recipient's outcome.
 *
 * Failure semantics, the retry and bounce rules:
 * - 2xx → 'delivered'; a NOTIFY=SUCCESS recipient whose server does not do DSN gets a "relayed"
 *   notice (RFC 3461 §4.1); a DSN-capable server was told NOTIFY and reports itself.
 * - 5xx, null MX, NXDOMAIN, SMTPUTF8 missing, a message that cannot be made 7-bit → 'failed' now.
 * - 4xx, connection failures, DNS trouble → 'pending', next attempt after backoffMs(attempts)
 *   (policy.ts); once that would pass the entry's expiresAt (default 5 days), → 'failed' with
 *   Status 4.4.7 and the last error.
 * - Failed recipients whose NOTIFY allows it (absent = FAILURE) get one multipart/report bounce
 *   per round to the reverse path (SRS addresses of ours are reversed first); never for the null
 *   sender, so a bounce is never bounced (RFC 5321 §4.5.5).
 * - Outcomes are written after the delivery; a crash in between re-delivers after the lease ends
 *   (at-least-once: a duplicate is possible, a loss is not). A failed write of outcomes or notice
 *   is logged; the lease then expires and the entry is tried again.
 * - Final outcomes of submitted mail (an authenticated sender) are also kept in `store.sent`, just
 *   before the queue forgets them, so the sender can still see them (webmail's Sent status).
 */
import { hostname as osHostname } from 'node:os';
import type { DnsResolver, Logger } from '../../core/index.js';
import type { MessageSource } from '../../smtp/client/index.js';
import type {
  QueueAttemptResult,
  QueueClaim,
  QueueEntry,
  QueueRecipient,
  QueueRecipientUpdate,
  Store,
} from '../../store/types.js';
import { splitAddress } from '../inbound/recipients.js';
import { ConnectionCache } from './connection-cache.js';
import { type DeliverContext, deliverGroup, type RecipientOutcome } from './deliver.js';
import { type DkimKey, dkimSignature } from './dkim.js';
import { buildDsn, type DsnRecipient } from './dsn.js';
import {
  backoffMs,
  DEFAULT_RETRY,
  DEFAULT_RUNNER_LIMITS,
  type RetryPolicy,
  type RunnerLimits,
} from './policy.js';
import { postNotice } from './post.js';
import { type RoutingConfig, route } from './routing.js';
import { srsReverse } from './srs.js';

export interface QueueRunnerOptions {
  store: Store;
  /** Our host name: EHLO, Reporting-MTA, bounces' From. */
  hostname: string;
  logger: Logger;
  resolver: DnsResolver;
  routing?: RoutingConfig;
  retry?: Partial<RetryPolicy>;
  limits?: Partial<RunnerLimits>;
  smtp?: Pick<DeliverContext, 'timeouts' | 'ca'>;
  /** DKIM keys by domain (re-read through the function, so new keys apply without restart). */
  dkimKeys?: () => Map<string, DkimKey>;
  /** SRS secret, to send bounces for forwarded mail back to the original sender. */
  srsSecret?: string;
  /** Names this node in leases. Default host:pid. */
  owner?: string;
}

/** A counting semaphore: per-destination concurrency. */
class Gate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async enter(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  leave(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
  get idle(): boolean {
    return this.active === 0 && this.waiting.length === 0;
  }
}

export class QueueRunner {
  private readonly retry: RetryPolicy;
  private readonly limits: RunnerLimits;
  private readonly owner: string;
  private readonly log: Logger;
  private readonly gates = new Map<string, Gate>();
  private readonly inflight = new Set<Promise<void>>();
  /** `entry/index` of recipients whose delay notice is due in the current round. */
  private readonly delayedNow = new Set<string>();
  private cache = new ConnectionCache();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private ticking = false;
  private again = false;
  /** Delivered and failed recipient counts since start (metrics, tests). */
  readonly stats = { delivered: 0, failed: 0, deferred: 0, bounces: 0 };

  constructor(private readonly opts: QueueRunnerOptions) {
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.limits = { ...DEFAULT_RUNNER_LIMITS, ...opts.limits };
    this.owner = opts.owner ?? `${osHostname()}:${process.pid}`;
    this.log = opts.logger.child({ component: 'queue' });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.cache = new ConnectionCache();
    this.wake();
  }

  /** Looks for due entries now (after an enqueue in this process, or `queue retry`). */
  wake(): void {
    if (!this.running) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), 0);
    this.timer.unref();
  }

  /**
   * Stops claiming and waits up to `waitMs` for deliveries in flight (their outcomes are then
   * recorded); one still running after that is left to its lease: another start claims it again.
   */
  async stop(waitMs = 10_000): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    const deadline = Date.now() + waitMs;
    while (this.inflight.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, 100))]);
    }
    await this.cache.close();
  }

  /** Resolves once nothing is in flight (tests). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0 || this.ticking) {
      await Promise.allSettled([...this.inflight]);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (!this.running) return;
    this.ticking = true;
    let full = false;
    try {
      const room = this.limits.concurrency - this.inflight.size;
      // Claim in batches: a claim is a store write, one per finished delivery would be wasteful.
      const worth = Math.max(1, Math.floor(Math.min(this.limits.batch, this.limits.concurrency) / 4));
      if (room >= worth || (room > 0 && this.inflight.size === 0)) {
        const limit = Math.min(this.limits.batch, room);
        const claims = await this.opts.store.queue.claim({
          owner: this.owner,
          limit,
          leaseMs: this.limits.leaseMs,
        });
        full = claims.length === limit;
        for (const c of claims) {
          const p = this.process(c).catch((err) =>
            this.log.error({ err, queueId: c.entry.id }, 'queue entry failed'),
          );
          this.inflight.add(p);
          void p.finally(() => {
            this.inflight.delete(p);
            this.wake();
          });
        }
      }
    } catch (err) {
      this.log.error({ err }, 'queue claim failed');
    } finally {
      this.ticking = false;
    }
    if (!this.running) return;
    if (full || this.again) {
      this.again = false;
      this.wake();
      return;
    }
    this.timer = setTimeout(() => void this.tick(), this.limits.pollMs);
    this.timer.unref();
  }

  private gate(domain: string): Gate {
    let g = this.gates.get(domain);
    if (!g) this.gates.set(domain, (g = new Gate(this.limits.perDestination)));
    return g;
  }

  private async process(claim: QueueClaim): Promise<void> {
    const { entry, token } = claim;
    const store = this.opts.store;
    const renew = setInterval(
      () => void store.queue.renew(entry.id, token, this.limits.leaseMs).catch(() => {}),
      Math.max(1000, this.limits.leaseMs / 3),
    );
    renew.unref();
    try {
      const now = Date.now();
      const due = entry.recipients.filter((r) => r.state === 'pending' && r.nextAttemptAt.getTime() <= now);
      const groups = new Map<string, QueueRecipient[]>();
      for (const r of due) {
        const d = splitAddress(r.address).domain.toLowerCase();
        groups.set(d, [...(groups.get(d) ?? []), r]);
      }
      const outcomes = (
        await Promise.all([...groups].map(([domain, rcpts]) => this.deliverDomain(entry, domain, rcpts)))
      ).flat();
      const updates = this.toUpdates(entry, outcomes);
      await this.notify(entry, updates);
      await this.keepOutcomes(entry, updates);
      try {
        await store.queue.update(entry.id, token, updates);
      } catch (err) {
        this.log.warn({ err, queueId: entry.id }, 'could not record delivery outcomes (lease lost?)');
      }
    } finally {
      clearInterval(renew);
    }
  }

  private async deliverDomain(
    entry: QueueEntry,
    domain: string,
    rcpts: QueueRecipient[],
  ): Promise<RecipientOutcome[]> {
    const gate = this.gate(domain);
    await gate.enter();
    try {
      const r = await route(domain, this.opts.routing ?? {}, this.opts.resolver);
      if (r.kind === 'fail') {
        this.log.info(
          { queueId: entry.id, domain, status: r.status, reason: r.diagnostic },
          'routing failed',
        );
        return rcpts.map((x) => ({
          index: x.index,
          state: r.temporary ? 'pending' : 'failed',
          result: { status: r.status, diagnostic: r.diagnostic },
        }));
      }
      const ctx: DeliverContext = {
        hostname: this.opts.hostname,
        logger: this.log,
        cache: this.cache,
        ...this.opts.smtp,
      };
      if (this.opts.dkimKeys) ctx.sign = (e, body) => this.sign(e, body);
      return await deliverGroup(ctx, entry, rcpts, r.hops, () => this.opts.store.queue.read(entry.id));
    } catch (err) {
      this.log.error({ err, queueId: entry.id, domain }, 'delivery error');
      return rcpts.map((x) => ({
        index: x.index,
        state: 'pending',
        result: { status: '4.3.0', diagnostic: 'local error while delivering' },
      }));
    } finally {
      gate.leave();
    }
  }

  /** DKIM with the key of the envelope sender's domain, else of our host name; '' when none. */
  private async sign(entry: QueueEntry, body: () => MessageSource): Promise<string> {
    const keys = this.opts.dkimKeys?.();
    if (!keys || keys.size === 0) return '';
    const domain = entry.mailFrom
      ? splitAddress(entry.mailFrom).domain.toLowerCase()
      : this.opts.hostname.toLowerCase();
    const key = keys.get(domain) ?? keys.get(this.opts.hostname.toLowerCase());
    if (!key) return '';
    try {
      return await dkimSignature(body() as Parameters<typeof dkimSignature>[0], key);
    } catch (err) {
      this.log.warn({ err, queueId: entry.id, domain }, 'DKIM signing failed; sending unsigned');
      return '';
    }
  }

  private toUpdates(entry: QueueEntry, outcomes: RecipientOutcome[]): QueueRecipientUpdate[] {
    const now = Date.now();
    return outcomes.map((o) => {
      const r = entry.recipients[o.index]!;
      if (o.state !== 'pending') {
        if (o.state === 'delivered') this.stats.delivered++;
        else this.stats.failed++;
        return { index: o.index, state: o.state, result: o.result };
      }
      const next = now + backoffMs(r.attempts + 1, this.retry);
      const expires = Math.min(entry.expiresAt.getTime(), entry.createdAt.getTime() + this.retry.maxAgeMs);
      if (next > expires) {
        this.stats.failed++;
        const result: QueueAttemptResult = {
          ...o.result,
          status: o.result.status.startsWith('4.') ? '4.4.7' : o.result.status,
          diagnostic: `delivery time expired; last error: ${o.result.diagnostic}`,
        };
        return { index: o.index, state: 'failed', result };
      }
      this.stats.deferred++;
      const result: QueueAttemptResult = { ...o.result };
      if (r.last?.delayWarned) result.delayWarned = true;
      else if (r.notify?.includes('DELAY') && now - entry.createdAt.getTime() >= this.retry.delayWarningMs) {
        // Marked now, so the notice goes out once (notify() sends it for this round).
        result.delayWarned = true;
        this.delayedNow.add(`${entry.id}/${o.index}`);
      }
      return { index: o.index, state: 'pending', nextAttemptAt: new Date(next), result };
    });
  }

  /** Keeps the final outcomes of submitted mail (see the module comment); failures are logged. */
  private async keepOutcomes(entry: QueueEntry, updates: QueueRecipientUpdate[]): Promise<void> {
    if (!entry.envelope.client?.authUser) return;
    const at = new Date();
    const final = updates.flatMap((u) =>
      u.state === 'pending'
        ? []
        : [
            {
              queueId: entry.id,
              sha256: entry.sha256,
              index: u.index,
              address: entry.recipients[u.index]!.address,
              state: u.state,
              ...(u.result ? { result: u.result } : {}),
              at,
            },
          ],
    );
    if (final.length === 0) return;
    try {
      await this.opts.store.sent.record(final, at);
    } catch (err) {
      this.log.warn({ err, queueId: entry.id }, 'could not keep delivery outcomes');
    }
  }

  /** Bounces and success ("relayed") notices for this round (see the module comment). */
  private async notify(entry: QueueEntry, updates: QueueRecipientUpdate[]): Promise<void> {
    if (entry.mailFrom === '') return;
    const list: DsnRecipient[] = [];
    for (const u of updates) {
      const r = entry.recipients[u.index]!;
      const notify = r.notify;
      if (notify?.includes('NEVER')) continue;
      let action: DsnRecipient['action'] | undefined;
      if (u.state === 'failed' && (!notify || notify.includes('FAILURE'))) action = 'failed';
      if (u.state === 'delivered' && u.result?.relayed && notify?.includes('SUCCESS')) action = 'relayed';
      if (u.state === 'pending' && this.delayedNow.delete(`${entry.id}/${u.index}`)) action = 'delayed';
      if (!action || !u.result) continue;
      const d: DsnRecipient = {
        address: r.address,
        action,
        status: u.result.status,
        lastAttemptAt: new Date(),
      };
      if (action === 'delayed') d.willRetryUntil = entry.expiresAt;
      if (r.orcpt) d.orcpt = r.orcpt;
      if (u.result.diagnostic) d.diagnostic = u.result.diagnostic;
      if (u.result.diagnosticType) d.diagnosticType = u.result.diagnosticType;
      if (u.result.remoteMta) d.remoteMta = u.result.remoteMta;
      list.push(d);
    }
    if (list.length === 0) return;
    let to = entry.mailFrom;
    if (this.opts.srsSecret && /^SRS0[=+-]/i.test(to)) to = srsReverse(to, this.opts.srsSecret) ?? to;
    const dsn = buildDsn({
      reportingMta: this.opts.hostname,
      to,
      ...(entry.envid !== undefined ? { envid: entry.envid } : {}),
      arrivalDate: entry.createdAt,
      recipients: list,
      ret: entry.ret ?? 'HDRS',
      original: () => this.opts.store.queue.read(entry.id),
      original8bit: entry.body8bit,
    });
    try {
      await postNotice(
        {
          store: this.opts.store,
          hostname: this.opts.hostname,
          retry: this.retry,
          logger: this.log,
          onQueued: () => this.wake(),
        },
        to,
        dsn.chunks,
        dsn.body8bit,
      );
      this.stats.bounces++;
      this.log.info(
        { queueId: entry.id, to, recipients: list.map((r) => `${r.address}:${r.action}`) },
        'notice sent',
      );
    } catch (err) {
      this.log.error({ err, queueId: entry.id, to }, 'could not post a delivery notice');
    }
  }
}

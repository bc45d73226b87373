/**
 * The outbound queue's timing and limits, with their sources. Retry follows RFC 5321 §4.5.4.1
 * ("the retry interval SHOULD be at least 30 minutes", "give-up time … at least 4-5 days") in the
 * shape Postfix uses: the first retry after `minBackoffMs` (Postfix minimal_backoff_time, 300 s),
 * doubling up to `maxBackoffMs` (maximal_backoff_time, 4000 s), giving up after `maxAgeMs`
 * (maximal_queue_lifetime, 5 days). Tests shrink all of these to milliseconds.
 */

export interface RetryPolicy {
  minBackoffMs: number;
  maxBackoffMs: number;
  /** After this age a pending recipient fails (bounce, Status 4.4.7). */
  maxAgeMs: number;
  /**
   * A recipient that asked NOTIFY=DELAY and is still pending after this long gets one "delayed"
   * notice (RFC 3461 §4.1; 4 h like Postfix's delay_warning_time when it is turned on).
   */
  delayWarningMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  minBackoffMs: 300_000,
  maxBackoffMs: 4_000_000,
  maxAgeMs: 5 * 86_400_000,
  delayWarningMs: 4 * 3_600_000,
};

export interface RunnerLimits {
  /** Transactions in flight at once, all destinations together (Postfix default_process_limit 100). */
  concurrency: number;
  /** Transactions in flight per destination domain (Postfix default_destination_concurrency_limit 20). */
  perDestination: number;
  /** How long a claim lasts; renewed while a delivery runs. Another node may claim after it. */
  leaseMs: number;
  /** How often an idle runner looks for due entries (an in-process enqueue wakes it at once). */
  pollMs: number;
  /** Entries claimed per round. */
  batch: number;
}

export const DEFAULT_RUNNER_LIMITS: RunnerLimits = {
  concurrency: 100,
  perDestination: 20,
  leaseMs: 10 * 60_000,
  pollMs: 5_000,
  batch: 100,
};

/** Delay before the next attempt after `attempts` failed ones (1-based), with ±10% jitter. */
export function backoffMs(attempts: number, p: RetryPolicy, random: () => number = Math.random): number {
  const base = Math.min(p.maxBackoffMs, p.minBackoffMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
  return Math.max(1, Math.round(base * (0.9 + 0.2 * random())));
}

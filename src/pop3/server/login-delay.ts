/**
 * Failed-login throttling: a delay before answering a failed login that grows with the number of
 * recent failures from the same client IP and for the same account name (whichever is larger):
 * 0, base, 2·base, 4·base, … capped at `maxMs`. Failures are forgotten `windowMs` after the last
 * one; a successful login forgets the account's (not the IP's) failures. The table is bounded so a
 * flood of distinct names cannot grow memory without limit (oldest entries go first).
 *
 * The same delay applies whether or not the account exists, so timing reveals nothing.
 */

export interface LoginDelayOptions {
  /** Delay after the second failure; doubles for each further one. Default 1000 ms. */
  baseMs?: number;
  /** Cap on the delay. Default 16000 ms. */
  maxMs?: number;
  /** Failures older than this are forgotten. Default 15 minutes. */
  windowMs?: number;
  /** Most keys (IPs + account names) remembered. Default 10000. */
  maxEntries?: number;
}

export const LOGIN_DELAY_DEFAULTS = {
  baseMs: 1000,
  maxMs: 16_000,
  windowMs: 15 * 60_000,
  maxEntries: 10_000,
} as const;

interface Entry {
  failures: number;
  last: number;
}

export class LoginDelayPolicy {
  private readonly opts: Required<LoginDelayOptions>;
  private readonly table = new Map<string, Entry>();

  constructor(
    opts: LoginDelayOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.opts = { ...LOGIN_DELAY_DEFAULTS, ...opts };
  }

  private count(key: string): number {
    const e = this.table.get(key);
    if (!e) return 0;
    if (this.now() - e.last > this.opts.windowMs) {
      this.table.delete(key);
      return 0;
    }
    return e.failures;
  }

  /** Records a failure for this IP and account; returns the delay (ms) before answering it. */
  fail(ip: string, account: string | undefined): number {
    const keys = [`ip:${ip}`];
    if (account) keys.push(`user:${account.toLowerCase()}`);
    let n = 0;
    for (const k of keys) {
      const failures = this.count(k) + 1;
      n = Math.max(n, failures);
      this.table.delete(k); // re-insert so Map order stays least-recently-failed first
      this.table.set(k, { failures, last: this.now() });
    }
    while (this.table.size > this.opts.maxEntries) {
      this.table.delete(this.table.keys().next().value!);
    }
    if (n <= 1) return 0;
    return Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** Math.min(n - 2, 30));
  }

  /** A successful login for this account forgets its failures. */
  succeed(account: string): void {
    this.table.delete(`user:${account.toLowerCase()}`);
  }
}

/**
 * Login rate limiting for the web API: after `maxFailures` failed logins within `windowMs` from
 * one client IP, or for one account name, further attempts are refused with 429 (and a
 * Retry-After) without checking the password, until the window has passed since the last
 * failure. A successful login forgets the account's failures (not the IP's). Same idea as the
 * POP3/SMTP login delay, but the web answers at once: an HTTP client waiting 16 s is a hung page.
 *
 * The table is bounded (oldest entries go first) so a flood of names cannot grow memory.
 */

export interface LoginLimitOptions {
  /** Failures allowed per window, per IP and per account. Default 5. */
  maxFailures: number;
  /** Default 15 minutes. */
  windowMs: number;
  /** Default 10 000 keys. */
  maxEntries: number;
}

export const LOGIN_LIMIT_DEFAULTS: LoginLimitOptions = {
  maxFailures: 5,
  windowMs: 15 * 60_000,
  maxEntries: 10_000,
};

export class LoginLimiter {
  private readonly opts: LoginLimitOptions;
  private readonly table = new Map<string, { failures: number; last: number }>();

  constructor(
    opts: Partial<LoginLimitOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.opts = { ...LOGIN_LIMIT_DEFAULTS, ...opts };
  }

  private keys(ip: string, account: string): string[] {
    return [`ip:${ip}`, `user:${account.trim().toLowerCase()}`];
  }

  /** Seconds to wait when this attempt must be refused, else 0. */
  blockedFor(ip: string, account: string): number {
    let wait = 0;
    for (const k of this.keys(ip, account)) {
      const e = this.table.get(k);
      if (!e) continue;
      const left = e.last + this.opts.windowMs - this.now();
      if (left <= 0) this.table.delete(k);
      else if (e.failures >= this.opts.maxFailures) wait = Math.max(wait, Math.ceil(left / 1000));
    }
    return wait;
  }

  fail(ip: string, account: string): void {
    for (const k of this.keys(ip, account)) {
      const e = this.table.get(k);
      const fresh = e && this.now() - e.last <= this.opts.windowMs;
      this.table.delete(k);
      this.table.set(k, { failures: (fresh ? e.failures : 0) + 1, last: this.now() });
    }
    while (this.table.size > this.opts.maxEntries) this.table.delete(this.table.keys().next().value!);
  }

  succeed(account: string): void {
    this.table.delete(`user:${account.trim().toLowerCase()}`);
  }
}

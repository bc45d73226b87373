/**
 * Web sessions: random 256-bit ids in an HttpOnly, SameSite=Strict cookie (Secure under TLS), a
 * server-side table in memory with an idle and an absolute expiry, and a per-session CSRF token
 * (synchronizer token: the UI sends it back in `X-CSRF-Token` on every state-changing request).
 *
 * Failure semantics: sessions live in this process only; a restart logs everyone out (they log in
 * again). The table is bounded: past `maxSessions` the oldest session is dropped.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'posthorn_session';

export interface SessionLimits {
  /** A session unused this long ends. Default 2 h. */
  idleMs: number;
  /** A session ends this long after login whatever its use. Default 12 h. */
  absoluteMs: number;
  /** Most sessions kept (oldest dropped first). Default 100 000. */
  maxSessions: number;
}

export const SESSION_DEFAULTS: SessionLimits = {
  idleMs: 2 * 3600_000,
  absoluteMs: 12 * 3600_000,
  maxSessions: 100_000,
};

export interface WebSession {
  id: string;
  userId: number;
  address: string;
  csrf: string;
  createdAt: number;
  lastSeen: number;
}

export class SessionTable {
  private readonly table = new Map<string, WebSession>();
  private readonly limits: SessionLimits;

  constructor(
    limits: Partial<SessionLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...SESSION_DEFAULTS, ...limits };
  }

  create(userId: number, address: string): WebSession {
    const t = this.now();
    const s: WebSession = {
      id: randomBytes(32).toString('base64url'),
      userId,
      address,
      csrf: randomBytes(32).toString('base64url'),
      createdAt: t,
      lastSeen: t,
    };
    this.table.set(s.id, s);
    while (this.table.size > this.limits.maxSessions) this.table.delete(this.table.keys().next().value!);
    return s;
  }

  /** The live session with this id (touching it), or undefined. */
  get(id: string | undefined): WebSession | undefined {
    if (!id) return undefined;
    const s = this.table.get(id);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.lastSeen > this.limits.idleMs || t - s.createdAt > this.limits.absoluteMs) {
      this.table.delete(id);
      return undefined;
    }
    s.lastSeen = t;
    return s;
  }

  destroy(id: string): void {
    this.table.delete(id);
  }

  /** Ends every session of a user (password change, user removed), except `keep`. */
  destroyUser(userId: number, keep?: string): void {
    for (const [id, s] of this.table) if (s.userId === userId && id !== keep) this.table.delete(id);
  }

  /** Drops expired sessions (called on a timer). */
  sweep(): void {
    const t = this.now();
    for (const [id, s] of this.table) {
      if (t - s.lastSeen > this.limits.idleMs || t - s.createdAt > this.limits.absoluteMs)
        this.table.delete(id);
    }
  }

  get size(): number {
    return this.table.size;
  }
}

/** Constant-time comparison of a presented CSRF token with the session's. */
export function csrfMatches(session: WebSession, presented: unknown): boolean {
  if (typeof presented !== 'string' || presented.length === 0) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

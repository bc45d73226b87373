/**
 * Recent SMTP and POP3 sessions as the admin console shows them: a bounded in-memory record fed
 * by the protocol servers' trace hook (core/trace.ts), with listeners for the live view.
 *
 * Bounds: the newest `sessions` sessions are kept (the oldest forgotten first, even if still
 * open), each with its newest `linesPerSession` lines (older ones only counted), each line cut at
 * `lineChars` characters; so memory stays under sessions × lines × chars whatever clients send.
 * The servers mask secrets before they report a line; this module never sees a password.
 *
 * Failure semantics: `record` runs on the protocol servers' path, so it never throws: events of
 * unknown (forgotten) sessions are dropped, and a listener that throws is removed.
 */
import type { ConnInfo, TraceEvent, TraceObserver, TraceProtocol } from '../core/index.js';

export interface SessionTraceLimits {
  /** Sessions kept. Default 200. */
  sessions: number;
  /** Lines kept per session. Default 200. */
  linesPerSession: number;
  /** Characters kept of one line (then "…"). Default 512. */
  lineChars: number;
}

export const SESSION_TRACE_LIMITS: Readonly<SessionTraceLimits> = {
  sessions: 200,
  linesPerSession: 200,
  lineChars: 512,
};

export interface TracedLine {
  /** Milliseconds since the epoch. */
  at: number;
  dir: 'C' | 'S';
  text: string;
}

export interface SessionSummary {
  id: string;
  protocol: TraceProtocol;
  listener: string;
  remoteAddress: string;
  remotePort: number;
  tls: boolean;
  user: string | null;
  startedAt: number;
  endedAt: number | null;
  /** Lines recorded, including those no longer kept. */
  lineCount: number;
}

export interface TracedSession extends SessionSummary {
  lines: TracedLine[];
  /** The oldest lines not kept any more. */
  droppedLines: number;
}

/** What listeners hear, in order. */
export type TraceUpdate =
  | { type: 'open'; session: SessionSummary }
  /** `n`: the line's number in its session (1-based), against lines a client already fetched. */
  | { type: 'line'; id: string; n: number; line: TracedLine }
  | { type: 'meta'; id: string; tls: boolean; user: string | null }
  | { type: 'close'; id: string; at: number };

type Listener = (u: TraceUpdate) => void;

function summary(s: TracedSession): SessionSummary {
  const { lines: _l, droppedLines: _d, ...rest } = s;
  return rest;
}

export class SessionTrace {
  readonly limits: SessionTraceLimits;
  private readonly sessions = new Map<string, TracedSession>();
  private readonly listeners = new Set<Listener>();

  constructor(limits: Partial<SessionTraceLimits> = {}) {
    this.limits = { ...SESSION_TRACE_LIMITS, ...limits };
  }

  /** The observer to hand to the protocol servers (`onTrace`). */
  readonly record: TraceObserver = (e: TraceEvent): void => {
    if (e.type === 'open') {
      this.open(e.protocol, e.conn);
      return;
    }
    const s = this.sessions.get(e.conn.id);
    if (!s) return;
    this.syncMeta(s, e.conn);
    if (e.type === 'close') {
      if (s.endedAt !== null) return;
      s.endedAt = Date.now();
      this.emit({ type: 'close', id: s.id, at: s.endedAt });
      return;
    }
    const max = this.limits.lineChars;
    const text = e.line.length > max ? `${e.line.slice(0, max)}…` : e.line;
    const line: TracedLine = { at: Date.now(), dir: e.dir, text };
    s.lines.push(line);
    s.lineCount++;
    if (s.lines.length > this.limits.linesPerSession) {
      s.lines.shift();
      s.droppedLines++;
    }
    this.emit({ type: 'line', id: s.id, n: s.lineCount, line });
  };

  /** Sessions newest first, without their lines. */
  list(): SessionSummary[] {
    return [...this.sessions.values()].reverse().map(summary);
  }

  get(id: string): TracedSession | undefined {
    const s = this.sessions.get(id);
    return s && { ...s, lines: [...s.lines] };
  }

  /** Hears every update from now on; returns the unsubscribe function. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private open(protocol: TraceProtocol, conn: ConnInfo): void {
    if (this.sessions.has(conn.id)) return;
    while (this.sessions.size >= this.limits.sessions) {
      this.sessions.delete(this.sessions.keys().next().value!);
    }
    const s: TracedSession = {
      id: conn.id,
      protocol,
      listener: conn.listener,
      remoteAddress: conn.remoteAddress,
      remotePort: conn.remotePort,
      tls: conn.tls,
      user: conn.authUser ?? null,
      startedAt: Date.now(),
      endedAt: null,
      lineCount: 0,
      lines: [],
      droppedLines: 0,
    };
    this.sessions.set(s.id, s);
    this.emit({ type: 'open', session: summary(s) });
  }

  /** TLS and the logged-in user change during a session (STARTTLS, AUTH). */
  private syncMeta(s: TracedSession, conn: ConnInfo): void {
    const user = conn.authUser ?? null;
    if (s.tls === conn.tls && s.user === user) return;
    s.tls = conn.tls;
    s.user = user;
    this.emit({ type: 'meta', id: s.id, tls: s.tls, user });
  }

  private emit(u: TraceUpdate): void {
    for (const fn of this.listeners) {
      try {
        fn(u);
      } catch {
        this.listeners.delete(fn);
      }
    }
  }
}

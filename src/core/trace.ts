/**
 * Watching protocol sessions line by line (the admin console's live view, the course's C:/S:
 * figures). A protocol server given an observer reports each session's start, every command line
 * it reads (C) and every reply line it writes (S), and its end. The servers mask secrets before
 * reporting (AUTH payloads, SASL responses, PASS) and report message content only as its size.
 * Without an observer they report nothing and pay one `if` per line.
 */
import type { ConnInfo } from './conn.js';

export type TraceProtocol = 'smtp' | 'pop3';

/**
 * `conn` is the live connection record (its `id` is the session id): read what you need when the
 * event arrives, it changes as the session goes on (TLS, authenticated user).
 */
export type TraceEvent =
  | { type: 'open'; protocol: TraceProtocol; conn: ConnInfo }
  | { type: 'line'; conn: ConnInfo; dir: 'C' | 'S'; line: string }
  | { type: 'close'; conn: ConnInfo };

/** Called synchronously on the session's path: it must be cheap and must not throw. */
export type TraceObserver = (event: TraceEvent) => void;

/** What stands in for a secret in a traced line. */
export const TRACE_MASK = '********';

/** Lines of one multi-line reply reported at most (a LIST of a huge maildrop is not copied whole). */
export const MAX_TRACED_REPLY_LINES = 100;

/** Reports each CRLF-ended line of `text` (one reply, possibly multi-line) as an S line. */
export function traceReply(observer: TraceObserver, conn: ConnInfo, text: string): void {
  let start = 0;
  let n = 0;
  let end = text.indexOf('\r\n');
  while (end >= 0) {
    if (n < MAX_TRACED_REPLY_LINES) observer({ type: 'line', conn, dir: 'S', line: text.slice(start, end) });
    n++;
    start = end + 2;
    end = text.indexOf('\r\n', start);
  }
  if (n > MAX_TRACED_REPLY_LINES) {
    observer({ type: 'line', conn, dir: 'S', line: `<${n - MAX_TRACED_REPLY_LINES} more lines>` });
  }
  if (start < text.length) observer({ type: 'line', conn, dir: 'S', line: text.slice(start) });
}

/** The stand-in for message content (DATA, BDAT chunks, RETR/TOP bodies). */
export function messageDataLine(octets: number): string {
  return `<${octets} bytes of message data>`;
}

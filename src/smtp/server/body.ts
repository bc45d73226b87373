/**
 * The message body handed to `Session.data()`: a Readable fed by the server with backpressure, and
 * the bookkeeping of one DATA/BDAT transfer (size, abort, the backend's verdict).
 *
 * Failure semantics: `abort(err)` destroys the stream with `err`, so a backend reading it sees the
 * error and must leave nothing behind. The verdict promise never rejects: it settles to
 * `{ ok: true, result }` or `{ ok: false, error }`. A backend that settles before the server ended
 * the stream (`settledEarly`) did not read the whole body; its success is not trusted.
 */
import { Readable } from 'node:stream';
import type { DataResult, Session } from './backend.js';

/** Buffered body octets before the socket is paused; one socket read may overshoot it. */
export const BODY_HIGH_WATER_MARK = 64 * 1024;

export type DataVerdict = { ok: true; result: DataResult | undefined } | { ok: false; error: unknown };

class BodyStream extends Readable {
  constructor(private readonly onRead: () => void) {
    super({ highWaterMark: BODY_HIGH_WATER_MARK });
  }

  override _read(): void {
    this.onRead();
  }
}

export class BodyTransfer {
  readonly body: Readable;
  readonly verdict: Promise<DataVerdict>;
  /** Content octets received so far (after dot-unstuffing). */
  size = 0;
  aborted = false;
  ended = false;
  settled = false;
  settledEarly = false;

  /**
   * @param onDrain the consumer wants more: resume the socket.
   * @param onSettle the backend answered (maybe early): resume the socket so the rest is swallowed.
   */
  constructor(session: Session, onDrain: () => void, onSettle: () => void) {
    const body = new BodyStream(onDrain);
    this.body = body;
    this.verdict = Promise.resolve()
      .then(() => session.data(body))
      .then(
        (result): DataVerdict => ({ ok: true, result }),
        (error: unknown): DataVerdict => ({ ok: false, error }),
      )
      .then((v) => {
        this.settled = true;
        if (!this.ended) {
          this.settledEarly = true;
          // Nobody reads it any more; drop what it holds.
          if (!body.destroyed) body.destroy();
        }
        onSettle();
        return v;
      });
  }

  /** Passes content on; returns false when the socket should pause (the stream is full). */
  write(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.aborted || this.settled || this.body.destroyed) return true;
    return this.body.push(chunk);
  }

  /** The whole body was received intact. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.aborted && !this.settled && !this.body.destroyed) this.body.push(null);
  }

  abort(err: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.ended = true;
    if (!this.body.destroyed) this.body.destroy(err);
  }
}

/** The error a body stream is destroyed with; `code` names the reason for backends that log it. */
export class BodyAbortedError extends Error {
  constructor(
    message: string,
    readonly code: 'SIZE' | 'BARE_LINE_END' | 'NUL' | 'LINE_TOO_LONG' | 'RESET' | 'CONNECTION_LOST',
  ) {
    super(message);
    this.name = 'BodyAbortedError';
  }
}

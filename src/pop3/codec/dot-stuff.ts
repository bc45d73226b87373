/**
 * Multi-line response bodies (RFC 1939 §3): byte-stuffing on the way out, un-stuffing on the way
 * in, and TOP's "headers plus k body lines" cut. All three are sans-I/O state machines fed chunk
 * by chunk; no state depends on where chunks split, so a 25 MB message streams in constant memory.
 *
 * Line starts are taken after every LF, not only CRLF: a client that splits on bare LF must never
 * see an unstuffed '.' at what it believes is a line start.
 *
 * The terminator: if the stored bytes do not end with CRLF, the encoder adds one before `.CRLF`
 * (RFC 1939 §3 requires the body to end in CRLF before the terminating line).
 */

import { DotStuffer } from '../../wire/dot-stuffer.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

// The encoder is the one SMTP's DATA uses: the rules are the same (RFC 1939 §3, RFC 5321 §4.5.2).
export { DotStuffer };

/**
 * TOP n k (RFC 1939 §7): the header block, the blank line after it, then k body lines. A message
 * without a blank line is all header and is sent whole.
 */
export class TopLimiter {
  private inBody = false;
  private lineEmpty = true;
  private bodyLines = 0;
  done = false;

  constructor(private readonly bodyLineLimit: number) {}

  /** Returns the part of `chunk` to send; once `done` is true the rest of the message is not needed. */
  push(chunk: Buffer): Buffer {
    if (this.done) return chunk.subarray(0, 0);
    let i = 0;
    while (i < chunk.length) {
      if (!this.inBody) {
        const lf = chunk.indexOf(LF, i);
        if (lf < 0) {
          // Still inside a header line; whether it is the empty line depends on what it holds.
          for (let j = i; j < chunk.length; j++) if (chunk[j] !== CR) this.lineEmpty = false;
          return chunk;
        }
        for (let j = i; j < lf; j++) if (chunk[j] !== CR) this.lineEmpty = false;
        i = lf + 1;
        if (this.lineEmpty) {
          this.inBody = true;
          if (this.bodyLineLimit === 0) return this.finish(chunk, i);
        }
        this.lineEmpty = true;
      } else {
        const lf = chunk.indexOf(LF, i);
        if (lf < 0) return chunk;
        i = lf + 1;
        if (++this.bodyLines >= this.bodyLineLimit) return this.finish(chunk, i);
      }
    }
    return chunk;
  }

  private finish(chunk: Buffer, end: number): Buffer {
    this.done = true;
    return chunk.subarray(0, end);
  }
}

/** A stored message as a RETR/TOP body: cut for TOP (optional), byte-stuffed, then terminated. */
export class BodyEncoder {
  private readonly stuffer = new DotStuffer();
  private readonly top: TopLimiter | undefined;

  constructor(topLines?: number) {
    this.top = topLines === undefined ? undefined : new TopLimiter(topLines);
  }

  /** True once TOP has all it sends: the rest of the message need not be read. */
  get done(): boolean {
    return this.top?.done ?? false;
  }

  push(chunk: Buffer): Buffer {
    return this.stuffer.push(this.top ? this.top.push(chunk) : chunk);
  }

  end(): Buffer {
    return this.stuffer.end();
  }
}

/** A Buffer view of the bytes (no copy). */
export function asBuffer(c: Uint8Array): Buffer {
  return Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

/**
 * Un-stuffs a multi-line response body as it arrives (client side). `push` returns the body bytes
 * decoded from this chunk; once `done`, `rest` holds what followed the terminator.
 */
export class DotUnstuffer {
  // 0: at a line start, 1: inside a line, 2: '.' seen at line start, 3: '.\r' seen at line start.
  private state = 0;
  done = false;
  rest: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer {
    if (this.done) {
      this.rest = Buffer.concat([this.rest, chunk]);
      return chunk.subarray(0, 0);
    }
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case 1: {
          const lf = chunk.indexOf(LF, i);
          if (lf < 0) {
            out.push(chunk.subarray(i));
            i = chunk.length;
          } else {
            out.push(chunk.subarray(i, lf + 1));
            i = lf + 1;
            this.state = 0;
          }
          break;
        }
        case 0:
          if (chunk[i] === DOT) {
            this.state = 2;
            i++;
          } else {
            this.state = 1;
          }
          break;
        case 2:
          if (chunk[i] === CR) {
            this.state = 3;
            i++;
          } else {
            this.state = 1;
          }
          break;
        default:
          if (chunk[i] === LF) {
            this.done = true;
            this.rest = chunk.subarray(i + 1);
            return Buffer.concat(out);
          }
          out.push(Buffer.from([CR]));
          this.state = 1;
      }
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

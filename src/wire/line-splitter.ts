/**
 * A sans-I/O line splitter for text protocols (RFC 5321 §2.3.8, RFC 1939): bytes go in with
 * `push`, whole lines come out of `next`, and the bytes not yet consumed can be taken back with
 * `takeRemainder` when the protocol switches to a byte mode (DATA, BDAT, TLS).
 *
 * Failure semantics: nothing throws on input. Each line reports how it ended (`crlf`, or `lf` for
 * a bare LF, which callers usually refuse). A line longer than `maxLength` octets (counting its
 * CRLF) is not kept: the splitter discards its bytes as they arrive, so memory stays bounded, and
 * returns it once complete with `tooLong: true` and only its first `maxLength` octets.
 */

export interface SplitLine {
  /** The line without its terminator (at most `maxLength` octets when `tooLong`). */
  line: Buffer;
  /** 'crlf' for a proper CRLF, 'lf' when the LF had no CR before it. */
  ending: 'crlf' | 'lf';
  /** The line (with its terminator) exceeded `maxLength` octets; its tail was dropped. */
  tooLong: boolean;
}

export interface LineSplitterOptions {
  /** Longest accepted line in octets, terminator included (RFC 5321 §4.5.3.1.4: 512 for commands). */
  maxLength: number;
}

export class LineSplitter {
  private buf: Buffer = Buffer.alloc(0);
  /** True while dropping the tail of an over-long line; `head` keeps its first octets. */
  private discarding = false;
  private head: Buffer | undefined;
  readonly maxLength: number;

  constructor(opts: LineSplitterOptions) {
    this.maxLength = opts.maxLength;
  }

  /** Octets held, waiting for a line end. */
  get buffered(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** The next complete line, or undefined when more input is needed. */
  next(): SplitLine | undefined {
    for (;;) {
      const lf = this.buf.indexOf(0x0a);
      if (lf < 0) {
        this.trimOverlong();
        return undefined;
      }
      const crlf = lf > 0 && this.buf[lf - 1] === 0x0d;
      const end = crlf ? lf - 1 : lf;
      const ending = crlf ? 'crlf' : 'lf';
      if (this.discarding) {
        const line = this.head!;
        this.discarding = false;
        this.head = undefined;
        this.buf = this.buf.subarray(lf + 1);
        return { line, ending, tooLong: true };
      }
      // Counting the terminator as two octets even for a bare LF keeps the limit one number.
      const tooLong = end + 2 > this.maxLength;
      const line = Buffer.from(this.buf.subarray(0, tooLong ? this.maxLength : end));
      this.buf = this.buf.subarray(lf + 1);
      return { line, ending, tooLong };
    }
  }

  /** Removes and returns every buffered octet (the splitter starts afresh). */
  takeRemainder(): Buffer {
    const rest = this.discarding ? Buffer.alloc(0) : this.buf;
    this.buf = Buffer.alloc(0);
    this.discarding = false;
    this.head = undefined;
    return rest;
  }

  /** Drops buffered octets of a line that can no longer fit, keeping only its head for the caller. */
  private trimOverlong(): void {
    // A trailing CR may be half of a CRLF still to come; keep one spare octet for it.
    if (this.buf.length + 1 <= this.maxLength) return;
    if (!this.discarding) {
      this.discarding = true;
      this.head = Buffer.from(this.buf.subarray(0, this.maxLength));
    }
    const last = this.buf[this.buf.length - 1];
    this.buf = last === 0x0d ? Buffer.from([0x0d]) : Buffer.alloc(0);
  }
}

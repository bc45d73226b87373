/**
 * The receiving side of SMTP DATA (RFC 5321 §4.1.1.4, §4.5.2) as a sans-I/O decoder: feed it the
 * bytes after the `DATA` command's CRLF, get back the dot-unstuffed message bytes, and learn where
 * the data ends and what follows (pipelined commands).
 *
 * Smuggling-safe by construction: only CRLF "." CRLF ends the data. A bare LF, a bare CR, or a
 * "." line ended any other way is message content, never a terminator (CVE-2023-51764 and kin).
 * Such input is recorded as a defect (`bareLf`, `bareCr`), as are NUL octets and text lines over
 * `maxLineLength` octets (CRLF included, RFC 5321 §4.5.3.1.6), so the caller can refuse the
 * message after its real end while the session goes on. Nothing throws on input.
 */

/** RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including its CRLF. */
export const MAX_TEXT_LINE_OCTETS = 1000;

export interface DataDefects {
  bareLf: boolean;
  bareCr: boolean;
  nul: boolean;
  lineTooLong: boolean;
}

export interface DataDecodeResult {
  /** Unstuffed message bytes decoded from this chunk (slices of the input where possible). */
  chunks: Buffer[];
  /** True once CRLF.CRLF was seen; `rest` holds the octets after it. */
  done: boolean;
  rest?: Buffer;
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

enum State {
  /** At the start of a line (also the start of the data: the DATA command's CRLF precedes it). */
  LineStart = 0,
  Mid = 1,
  /** Saw CR inside a line; the next octet decides between CRLF and a bare CR. */
  Cr = 2,
  /** Saw "." at the start of a line. */
  Dot = 3,
  /** Saw "." CR at the start of a line: LF would end the data. */
  DotCr = 4,
  Done = 5,
}

export interface DotDecoderOptions {
  maxLineLength?: number;
}

export class DotDecoder {
  private state: State = State.LineStart;
  private lineLength = 0;
  readonly maxLineLength: number;
  readonly defects: DataDefects = { bareLf: false, bareCr: false, nul: false, lineTooLong: false };

  constructor(opts: DotDecoderOptions = {}) {
    this.maxLineLength = opts.maxLineLength ?? MAX_TEXT_LINE_OCTETS;
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  /** True when some defect was recorded. */
  get defective(): boolean {
    const d = this.defects;
    return d.bareLf || d.bareCr || d.nul || d.lineTooLong;
  }

  push(chunk: Buffer): DataDecodeResult {
    const out: Buffer[] = [];
    if (this.state === State.Done) return { chunks: out, done: true, rest: chunk };
    let state = this.state as State;
    let lineLength = this.lineLength;
    const max = this.maxLineLength;
    const defects = this.defects;
    // One native scan instead of a test per octet; only a NUL before the end of the data counts.
    const nulAt = defects.nul ? -1 : chunk.indexOf(0);
    // Output is emitted as slices [start, i); octets that must vanish (stuffing dots) cut a slice.
    let start = 0;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (state === State.Mid) {
        // Plain content runs to the next CR or LF: most of a message, skipped in a tight loop.
        let j = i;
        while (j < n) {
          const c = chunk[j]!;
          if (c === CR || c === LF) break;
          j++;
        }
        lineLength += j - i;
        if (lineLength > max) defects.lineTooLong = true;
        i = j;
        if (i === n) break;
      }
      const b = chunk[i]!;
      lineLength++;
      if (lineLength > max) defects.lineTooLong = true;
      switch (state) {
        case State.Dot:
          if (b === CR) {
            state = State.DotCr;
            break;
          }
          // Any other octet: the leading dot was stuffing and is already cut; this one is content.
          state = this.content(b, State.Mid);
          break;
        case State.DotCr:
          if (b === LF) {
            if (i - 1 > start) out.push(chunk.subarray(start, i - 1));
            if (nulAt !== -1 && nulAt < i) defects.nul = true;
            this.state = State.Done;
            this.lineLength = 0;
            return { chunks: out, done: true, rest: chunk.subarray(i + 1) };
          }
          // "." CR x: a bare CR in a dot line. The dot was stuffing; the CR is content.
          defects.bareCr = true;
          if (i === 0) out.push(Buffer.from([CR]));
          state = this.content(b, State.Mid);
          break;
        case State.Cr:
          if (b === LF) {
            state = State.LineStart;
            lineLength = 0;
            break;
          }
          defects.bareCr = true;
          state = this.content(b, State.Mid);
          break;
        case State.LineStart:
          if (b === DOT) {
            if (i > start) out.push(chunk.subarray(start, i));
            start = i + 1;
            state = State.Dot;
            break;
          }
          state = this.content(b, State.Mid);
          break;
        default:
          state = this.content(b, State.Mid);
      }
      // `content` may report a bare LF, which does not start a line.
      if (state === State.LineStart) lineLength = 0;
      i++;
    }
    if (nulAt !== -1) defects.nul = true;
    // A held "." CR: the CR belongs to the output if the data goes on, which the next chunk decides.
    const end = state === State.DotCr ? n - 1 : n;
    if (end > start) out.push(chunk.subarray(start, end));
    this.state = state;
    this.lineLength = lineLength;
    return { chunks: out, done: false };
  }

  /** State after a content octet. */
  private content(b: number, mid: State): State {
    if (b === CR) return State.Cr;
    if (b === LF) {
      this.defects.bareLf = true;
      return mid;
    }
    return mid;
  }
}

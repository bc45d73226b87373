/**
 * Quoted-printable content transfer encoding (RFC 2045 §6.7), incremental in both directions.
 *
 * Decoder deviations from RFC 2045, for real-world mail (compare Go's mime/quotedprintable):
 * 1. Lowercase hex digits are accepted (some encoders emit them).
 * 2. '=' not followed by two hex digits or a line break is kept literally and recorded once as
 *    'InvalidQuotedPrintable' (rule 1 says decoders should be lenient here).
 * 3. Whitespace between a soft-break '=' and the line end is ignored; trailing whitespace on a line
 *    is deleted (§6.7 rule 3: it may have been added by transport).
 * 4. Bare LF counts as a line end and is passed through; lines are not length-checked.
 *
 * Encoder: lines of at most 76 characters with '=' soft breaks; '=', controls, 8-bit bytes and
 * trailing whitespace are encoded; a '.' or 'F' starting an output line is encoded too, so the
 * result survives SMTP dot handling and mbox "From " quoting. In text mode CRLF (or a bare LF)
 * is a hard line break written as CRLF; in binary mode CR and LF are encoded as =0D/=0A.
 */
import type { Defect } from '../../defects.js';

/** RFC 2045 §6.7 rule 5: encoded lines are no more than 76 characters. */
export const QP_LINE_LENGTH = 76;
/** Longest partial line kept back while waiting for its end. */
const MAX_CARRY = 4096;

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[0x41 + i] = 10 + i;
  HEX[0x61 + i] = 10 + i;
}

function isWs(b: number | undefined): boolean {
  return b === 0x20 || b === 0x09;
}

/** Incremental, tolerant quoted-printable decoder. */
export class QpDecoder {
  readonly defects: Defect[] = [];
  private carry: Buffer = Buffer.alloc(0);
  private invalidSeen = false;

  push(chunk: Uint8Array): Buffer {
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.carry.length) data = Buffer.concat([this.carry, data]);
    const out = Buffer.allocUnsafe(data.length);
    let o = 0;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      o = this.line(data, start, nl, true, out, o);
      start = nl + 1;
    }
    // An unterminated line: decode most of it now so a huge line is not held back.
    if (data.length - start > MAX_CARRY) {
      let cut = data.length;
      while (cut > start && isWs(data[cut - 1])) cut--;
      if (data[cut - 1] === 0x3d) cut--;
      else if (data[cut - 2] === 0x3d) cut -= 2;
      o = this.line(data, start, cut, false, out, o);
      start = cut;
    }
    this.carry = Buffer.from(data.subarray(start));
    return out.subarray(0, o);
  }

  end(): Buffer {
    const data = this.carry;
    this.carry = Buffer.alloc(0);
    const out = Buffer.allocUnsafe(data.length);
    return out.subarray(0, this.line(data, 0, data.length, true, out, 0, true));
  }

  /** Decodes data[start, stop); `stop` is the LF of a complete line when `complete`. */
  private line(
    data: Buffer,
    start: number,
    stop: number,
    complete: boolean,
    out: Buffer,
    o: number,
    eof = false,
  ): number {
    let end = stop;
    let lineBreak = 0; // bytes of line break to copy: 0, 1 (LF) or 2 (CRLF)
    if (complete && !eof) {
      lineBreak = 1;
      if (end > start && data[end - 1] === 0x0d) {
        end--;
        lineBreak = 2;
      }
    }
    if (complete) while (end > start && isWs(data[end - 1])) end--;
    let soft = false;
    if (complete && end > start && data[end - 1] === 0x3d) {
      soft = true;
      end--;
    }
    for (let i = start; i < end; i++) {
      const b = data[i]!;
      if (b !== 0x3d) {
        out[o++] = b;
        continue;
      }
      const h = i + 2 < end ? HEX[data[i + 1]!]! : -1;
      const l = h >= 0 ? HEX[data[i + 2]!]! : -1;
      if (l >= 0) {
        out[o++] = (h << 4) | l;
        i += 2;
      } else {
        out[o++] = b;
        if (!this.invalidSeen) {
          this.invalidSeen = true;
          this.defects.push({
            type: 'InvalidQuotedPrintable',
            message: "'=' not followed by two hex digits",
          });
        }
      }
    }
    if (!soft && lineBreak) {
      if (lineBreak === 2) out[o++] = 0x0d;
      out[o++] = 0x0a;
    }
    return o;
  }
}

const HEX_UPPER = Buffer.from('0123456789ABCDEF', 'latin1');

/** Options for {@link QpEncoder}. */
export interface QpEncoderOptions {
  /** Binary mode: CR and LF are data and get encoded; default false (text, CRLF hard breaks). */
  binary?: boolean;
}

/** Incremental quoted-printable encoder with 76-column lines. */
export class QpEncoder {
  readonly defects: Defect[] = [];
  private col = 0;
  /** A space or tab not yet written: it must be encoded if a line break follows. */
  private pendingWs = -1;
  private pendingCr = false;
  private readonly binary: boolean;

  constructor(opts: QpEncoderOptions = {}) {
    this.binary = opts.binary ?? false;
  }

  push(chunk: Uint8Array): Buffer {
    // Worst case: every byte as =XX plus a 3-byte soft break every 25 bytes.
    const out = Buffer.allocUnsafe(chunk.length * 4 + 16);
    let o = 0;
    for (let i = 0; i < chunk.length; i++) o = this.byte(chunk[i]!, out, o);
    return out.subarray(0, o);
  }

  end(): Buffer {
    const out = Buffer.allocUnsafe(16);
    let o = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      o = this.flushWs(out, o, true);
      o = this.token(0x0d, true, out, o);
    }
    o = this.flushWs(out, o, true);
    return out.subarray(0, o);
  }

  private byte(b: number, out: Buffer, o: number): number {
    if (!this.binary) {
      if (this.pendingCr) {
        this.pendingCr = false;
        if (b === 0x0a) return this.hardBreak(out, o);
        o = this.flushWs(out, o, true);
        o = this.token(0x0d, true, out, o);
      }
      if (b === 0x0d) {
        this.pendingCr = true;
        return o;
      }
      if (b === 0x0a) return this.hardBreak(out, o);
    }
    if (b === 0x20 || b === 0x09) {
      o = this.flushWs(out, o, false);
      this.pendingWs = b;
      return o;
    }
    o = this.flushWs(out, o, false);
    const literal = b >= 33 && b <= 126 && b !== 0x3d;
    return this.token(b, !literal, out, o);
  }

  private hardBreak(out: Buffer, o: number): number {
    o = this.flushWs(out, o, true);
    out[o++] = 0x0d;
    out[o++] = 0x0a;
    this.col = 0;
    return o;
  }

  private flushWs(out: Buffer, o: number, trailing: boolean): number {
    if (this.pendingWs < 0) return o;
    const ws = this.pendingWs;
    this.pendingWs = -1;
    return this.token(ws, trailing, out, o);
  }

  /** Writes one byte literally or as =XX, inserting a soft break first when the line is full. */
  private token(b: number, encode: boolean, out: Buffer, o: number): number {
    const width = encode ? 3 : 1;
    if (this.col + width > QP_LINE_LENGTH - 1) {
      out[o++] = 0x3d;
      out[o++] = 0x0d;
      out[o++] = 0x0a;
      this.col = 0;
    }
    // A line starting with '.' or "From " is mangled by some transports; encode its first byte.
    if (this.col === 0 && (b === 0x2e || b === 0x46)) encode = true;
    if (encode) {
      out[o++] = 0x3d;
      out[o++] = HEX_UPPER[b >> 4]!;
      out[o++] = HEX_UPPER[b & 15]!;
      this.col += 3;
    } else {
      out[o++] = b;
      this.col += 1;
    }
    return o;
  }
}

/**
 * Base64 content transfer encoding (RFC 2045 §6.8), incremental in both directions.
 *
 * Decoder deviations from RFC 2045, all for real-world mail: characters outside the alphabet are
 * skipped (the RFC says so too) and recorded once as 'InvalidBase64Characters' unless they are
 * whitespace; '=' ends the current quantum, so concatenated padded blocks decode; a trailing
 * incomplete quantum of 2 or 3 characters is decoded anyway and recorded as 'InvalidBase64Padding';
 * a lone trailing character is dropped ('InvalidBase64Length'). The URL-safe '-' and '_' are
 * accepted as '+' and '/'. Nothing throws.
 *
 * Encoder: 76-character lines ending in CRLF (RFC 2045 §6.8), works on whole Buffers.
 */
import type { Defect } from '../../defects.js';

/** RFC 2045 §6.8: encoded lines are no more than 76 characters. */
export const BASE64_LINE_LENGTH = 76;
const BYTES_PER_LINE = (BASE64_LINE_LENGTH / 4) * 3;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** -1 skip silently (whitespace), -2 invalid, -3 padding, else the 6-bit value. */
const TABLE = new Int8Array(256).fill(-2);
for (let i = 0; i < 64; i++) TABLE[ALPHABET.charCodeAt(i)] = i;
TABLE[0x2d] = 62; // '-' (base64url)
TABLE[0x5f] = 63; // '_' (base64url)
TABLE[0x3d] = -3;
for (const c of [0x20, 0x09, 0x0d, 0x0a, 0x0b, 0x0c]) TABLE[c] = -1;

/** Per-position tables: a quantum is D0|D1|D2|D3; anything not in the alphabet sets bit 24+. */
const BAD = 0x1000000;
const D0 = new Uint32Array(256).fill(BAD);
const D1 = new Uint32Array(256).fill(BAD);
const D2 = new Uint32Array(256).fill(BAD);
const D3 = new Uint32Array(256).fill(BAD);
for (let c = 0; c < 256; c++) {
  const v = TABLE[c]!;
  if (v < 0) continue;
  D0[c] = v << 18;
  D1[c] = v << 12;
  D2[c] = v << 6;
  D3[c] = v;
}

/**
 * Decodes whole lines data[from, to) natively when every line holds a multiple of 4 characters
 * and the result has exactly the expected length, which proves there was no padding and no
 * character outside the alphabet (Node skips those silently and stops at '='). Otherwise
 * undefined: the caller uses the exact decoder, which records the defects.
 */
function nativeLines(data: Buffer, from: number, to: number): Buffer | undefined {
  let chars = 0;
  let a = from;
  while (a < to) {
    const lf = data.indexOf(0x0a, a);
    const end = lf > a && data[lf - 1] === 0x0d ? lf - 1 : lf;
    if ((end - a) & 3) return undefined;
    chars += end - a;
    a = lf + 1;
  }
  const out = Buffer.from(data.toString('latin1', from, to), 'base64');
  return out.length === (chars >> 2) * 3 ? out : undefined;
}

/** Incremental, tolerant base64 decoder: `push` returns what could be decoded so far. */
export class Base64Decoder {
  readonly defects: Defect[] = [];
  private acc = 0;
  private n = 0;
  private invalidSeen = false;
  private badPadding = false;

  push(chunk: Uint8Array): Buffer {
    const data = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // The partial line at each end goes through the exact decoder; the whole lines between them
    // through Node's native one when they are plainly well-formed (see nativeLines).
    const first = data.indexOf(0x0a);
    const last = data.lastIndexOf(0x0a);
    if (first < 0 || first === last || (this.n !== 0 && first + 1 >= last))
      return this.slow(data, 0, data.length);
    const head = this.slow(data, 0, first + 1);
    const middle = this.n === 0 ? nativeLines(data, first + 1, last + 1) : undefined;
    const body = middle ?? this.slow(data, first + 1, last + 1);
    const tail = this.slow(data, last + 1, data.length);
    return Buffer.concat([head, body, tail]);
  }

  /** The exact, tolerant decoder over data[from, to). */
  private slow(chunk: Buffer, from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe(((to - from + this.n) >> 2) * 3 + 3);
    let o = 0;
    let acc = this.acc;
    let n = this.n;
    let i = from;
    for (;;) {
      // Fast path: whole quanta of valid characters.
      if (n === 0) {
        while (i + 4 <= to) {
          const x = D0[chunk[i]!]! | D1[chunk[i + 1]!]! | D2[chunk[i + 2]!]! | D3[chunk[i + 3]!]!;
          if (x > 0xffffff) break;
          out[o] = x >> 16;
          out[o + 1] = (x >> 8) & 0xff;
          out[o + 2] = x & 0xff;
          o += 3;
          i += 4;
        }
      }
      if (i >= to) break;
      const v = TABLE[chunk[i++]!]!;
      if (v >= 0) {
        acc = (acc << 6) | v;
        if (++n === 4) {
          out[o++] = acc >> 16;
          out[o++] = (acc >> 8) & 0xff;
          out[o++] = acc & 0xff;
          n = 0;
          acc = 0;
        }
      } else if (v === -3) {
        // Padding ends the quantum; 2 or 3 pending characters carry 1 or 2 bytes.
        if (n === 2) out[o++] = (acc >> 4) & 0xff;
        else if (n === 3) {
          out[o++] = (acc >> 10) & 0xff;
          out[o++] = (acc >> 2) & 0xff;
        } else if (n === 1) this.badPadding = true;
        n = 0;
        acc = 0;
      } else if (v === -2 && !this.invalidSeen) {
        this.invalidSeen = true;
        this.defects.push({
          type: 'InvalidBase64Characters',
          message: 'characters outside the base64 alphabet',
        });
      }
    }
    this.acc = acc;
    this.n = n;
    return out.subarray(0, o);
  }

  end(): Buffer {
    let tail: Buffer = Buffer.alloc(0);
    if (this.n === 2) tail = Buffer.from([(this.acc >> 4) & 0xff]);
    else if (this.n === 3) tail = Buffer.from([(this.acc >> 10) & 0xff, (this.acc >> 2) & 0xff]);
    if (this.n === 2 || this.n === 3) this.badPadding = true;
    if (this.n === 1)
      this.defects.push({ type: 'InvalidBase64Length', message: 'a lone base64 character at the end' });
    if (this.badPadding)
      this.defects.push({ type: 'InvalidBase64Padding', message: 'base64 padding missing or misplaced' });
    this.n = 0;
    this.acc = 0;
    return tail;
  }
}

/** Incremental base64 encoder producing 76-character CRLF lines. */
export class Base64Encoder {
  readonly defects: Defect[] = [];
  private carry: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): Buffer {
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.carry.length) data = Buffer.concat([this.carry, data]);
    const whole = data.length - (data.length % BYTES_PER_LINE);
    this.carry = Buffer.from(data.subarray(whole));
    return whole ? encodeLines(data.subarray(0, whole)) : Buffer.alloc(0);
  }

  end(): Buffer {
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    return rest.length ? encodeLines(rest) : Buffer.alloc(0);
  }
}

/** Base64 with CRLF after every line, including the last. */
export function encodeLines(data: Buffer): Buffer {
  const s = data.toString('base64');
  const lines = Math.ceil(s.length / BASE64_LINE_LENGTH);
  const out = Buffer.allocUnsafe(s.length + lines * 2);
  let o = 0;
  for (let i = 0; i < s.length; i += BASE64_LINE_LENGTH) {
    const end = Math.min(i + BASE64_LINE_LENGTH, s.length);
    o += out.write(s.substring(i, end), o, 'latin1');
    out[o++] = 0x0d;
    out[o++] = 0x0a;
  }
  return out;
}

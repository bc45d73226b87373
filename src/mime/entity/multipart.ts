/**
 * Multipart framing (RFC 2046 §5.1.1): boundary generation and delimiter-line recognition over
 * raw bytes, for a streaming parser that sees the body in arbitrary chunks.
 *
 * A delimiter line is `--boundary` optionally followed by `--` (the close delimiter), then linear
 * white space ("transport padding"), then the line end. Leniency, as in Python's email package: a
 * bare LF ends the line as well as CRLF, and end of input counts as a line end. Anything else after
 * the boundary means the line is body text, so a boundary that is a prefix of a longer line
 * (`--abc` vs `--abcdef`) does not match.
 */
import { randomBytes } from 'node:crypto';

/** RFC 2046 §5.1.1: boundaries are 1 to 70 characters. */
export const MAX_BOUNDARY_LENGTH = 70;
/** Transport padding longer than this after a boundary is not believed to be a delimiter. */
export const MAX_TRANSPORT_PADDING = 256;

/** The result of looking at one line start for a delimiter. */
export type DelimiterMatch =
  /** Not a delimiter of any listed boundary. */
  | { kind: 'none' }
  /** Too few bytes to decide; call again with more. */
  | { kind: 'more' }
  /** A delimiter of boundaries[index]; the line (with its end) stops at `lineEnd`. */
  | { kind: 'delimiter' | 'close'; index: number; lineEnd: number };

const NONE: DelimiterMatch = { kind: 'none' };
const MORE: DelimiterMatch = { kind: 'more' };

/**
 * Tests whether `buf[at..]` (which follows a line start and starts with `--`) is a delimiter line
 * for one of `boundaries`, innermost (last) first. `final` means no more bytes will come.
 */
export function matchDelimiter(
  buf: Buffer,
  at: number,
  boundaries: readonly Buffer[],
  final: boolean,
): DelimiterMatch {
  let needMore = false;
  const start = at + 2;
  for (let index = boundaries.length - 1; index >= 0; index--) {
    const b = boundaries[index]!;
    const avail = buf.length - start;
    if (avail < b.length) {
      if (!final && buf.compare(b, 0, avail, start, buf.length) === 0) needMore = true;
      continue;
    }
    if (buf.compare(b, 0, b.length, start, start + b.length) !== 0) continue;
    let p = start + b.length;
    let kind: 'delimiter' | 'close' = 'delimiter';
    if (p < buf.length && buf[p] === 0x2d) {
      if (p + 1 >= buf.length) {
        if (final) return { kind: 'delimiter', index, lineEnd: buf.length };
        needMore = true;
        continue;
      }
      if (buf[p + 1] === 0x2d) {
        kind = 'close';
        p += 2;
      }
    }
    const padStart = p;
    while (p < buf.length && (buf[p] === 0x20 || buf[p] === 0x09) && p - padStart <= MAX_TRANSPORT_PADDING)
      p++;
    if (p - padStart > MAX_TRANSPORT_PADDING) continue;
    if (p >= buf.length) {
      if (final) return { kind, index, lineEnd: p };
      needMore = true;
      continue;
    }
    const c = buf[p];
    if (c === 0x0a) return { kind, index, lineEnd: p + 1 };
    if (c === 0x0d) {
      if (p + 1 >= buf.length) {
        if (final) return { kind, index, lineEnd: p + 1 };
        needMore = true;
        continue;
      }
      if (buf[p + 1] === 0x0a) return { kind, index, lineEnd: p + 2 };
    }
    // A close delimiter followed by junk on its line is still a close delimiter in practice.
    if (kind === 'close') {
      const nl = buf.indexOf(0x0a, p);
      if (nl >= 0) return { kind, index, lineEnd: nl + 1 };
      if (final) return { kind, index, lineEnd: buf.length };
      needMore = true;
    }
  }
  return needMore ? MORE : NONE;
}

const BOUNDARY_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * A fresh boundary. `=_` cannot occur in base64 and `=_` followed by a non-hex letter cannot occur
 * in quoted-printable output, and 24 random characters make a collision with text negligible.
 */
export function generateBoundary(): string {
  const bytes = randomBytes(24);
  let s = '----=_Part_';
  for (const b of bytes) s += BOUNDARY_CHARS[b % BOUNDARY_CHARS.length];
  return s;
}

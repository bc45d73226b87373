/**
 * Splits a header block into raw fields (RFC 5322 §2.2, §3.6; obsolete syntax §4.5).
 *
 * Every field keeps its exact bytes (`raw`, folds included, final line break excluded) so a
 * message can be written back byte for byte; `value` is the unfolded text for readers.
 *
 * Deviations from RFC 5322, all recorded as defects and never thrown:
 * 1. A bare LF ends a line like CRLF does (Unix mailboxes, broken senders).
 * 2. A line without a colon continues the previous field ('MissingHeaderColon'); before any field
 *    it is skipped. An mbox `From ` separator on the first line is skipped ('UnixFromLine').
 * 3. A continuation line with no field before it is skipped ('FirstLineContinuation').
 * 4. Whitespace between the field name and the colon (obs-optional, §4.5.8) is accepted.
 * 5. 8-bit bytes are decoded as UTF-8 when valid (RFC 6532), else as latin1, per field.
 * Only the configured limits throw (MimeLimitError).
 */
import { isUtf8 } from 'node:buffer';
import { type Defect, MimeLimitError } from '../defects.js';

/** One header field as it appeared in the message. */
export interface HeaderField {
  /** Field name as written (case kept). */
  name: string;
  /** Unfolded value: folds removed, leading and trailing whitespace trimmed. */
  value: string;
  /** Exact bytes of the field including folds, excluding the final line break. */
  raw: Buffer;
}

/** No RFC limit on header size exists; 1 MiB stops a runaway header while fitting any real one. */
export const DEFAULT_MAX_HEADER_BYTES = 1024 * 1024;
/** Real messages carry tens to a few hundred fields (long Received chains). */
export const DEFAULT_MAX_FIELDS = 10_000;
/** RFC 5322 §2.1.1: lines must not exceed 998 characters excluding CRLF. */
export const MAX_LINE_LENGTH = 998;

export interface ParseHeaderOptions {
  maxHeaderBytes?: number;
  maxFields?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;

interface Pending {
  start: number;
  nameEnd: number;
  /** Triples per line: [start, end) of the value part, 1 if it was a colon-less continuation. */
  segs: number[];
  end: number;
}

/** Parses a header block; stops at the first empty line if the block includes it. */
export function parseHeaderBlock(
  bytes: Uint8Array,
  opts?: ParseHeaderOptions,
): { fields: HeaderField[]; defects: Defect[] } {
  const maxBytes = opts?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const maxFields = opts?.maxFields ?? DEFAULT_MAX_FIELDS;
  const src = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let limit = src.length;
  const fields: HeaderField[] = [];
  const defects: Defect[] = [];
  let longLine = false;
  let cur: Pending | undefined;
  const pending: Pending[] = [];

  let pos = 0;
  let first = true;
  while (pos < limit) {
    let nl = src.indexOf(LF, pos);
    const next = nl < 0 ? limit : nl + 1;
    if (nl < 0) nl = limit;
    const lineEnd = nl > pos && src[nl - 1] === CR ? nl - 1 : nl;
    if (next > maxBytes && lineEnd > pos) {
      throw new MimeLimitError('maxHeaderBytes', `header block exceeds ${maxBytes} bytes`);
    }
    if (lineEnd === pos) {
      limit = pos; // the empty line ends the header block
      break;
    }
    if (!longLine && lineEnd - pos > MAX_LINE_LENGTH) {
      longLine = true;
      defects.push({ type: 'LineTooLong', message: `header line longer than ${MAX_LINE_LENGTH} characters` });
    }
    const c0 = src[pos];
    if (c0 === 0x20 || c0 === 0x09) {
      if (cur) {
        cur.segs.push(pos, lineEnd, 0);
        cur.end = lineEnd;
      } else {
        defects.push({
          type: 'FirstLineContinuation',
          message: 'header block starts with a continuation line',
        });
      }
    } else {
      const colon = findColon(src, pos, lineEnd);
      if (colon < 0) {
        if (first && lineEnd - pos > 5 && src.toString('latin1', pos, pos + 5) === 'From ') {
          defects.push({ type: 'UnixFromLine', message: 'mbox "From " line before the header' });
        } else if (cur) {
          defects.push({
            type: 'MissingHeaderColon',
            message: 'header line without a colon joined to the previous field',
          });
          cur.segs.push(pos, lineEnd, 1);
          cur.end = lineEnd;
        } else {
          defects.push({ type: 'MissingHeaderColon', message: 'header line without a colon skipped' });
        }
      } else {
        if (pending.length >= maxFields) {
          throw new MimeLimitError('maxFields', `more than ${maxFields} header fields`);
        }
        let nameEnd = colon;
        while (nameEnd > pos && (src[nameEnd - 1] === 0x20 || src[nameEnd - 1] === 0x09)) nameEnd--;
        cur = { start: pos, nameEnd, segs: [colon + 1, lineEnd, 0], end: lineEnd };
        pending.push(cur);
      }
    }
    first = false;
    pos = next;
  }
  const buf = Buffer.from(src.subarray(0, limit));
  // One private copy of the block: fields are views into it, safe if the caller reuses its buffer.
  for (const p of pending) fields.push(toField(buf, p));
  return { fields, defects };
}

/**
 * Position of the colon ending a field name, or -1 when the line is not a field: names are
 * printable ASCII without colon (§3.6.8); trailing WSP before the colon is obs-optional.
 */
function findColon(src: Buffer, pos: number, end: number): number {
  let i = pos;
  for (; i < end; i++) {
    const c = src[i]!;
    if (c === COLON) return i === pos ? -1 : i;
    if (c === 0x20 || c === 0x09) break;
    if (c < 0x21 || c > 0x7e) return -1;
  }
  for (; i < end; i++) {
    const c = src[i]!;
    if (c === COLON) return i;
    if (c !== 0x20 && c !== 0x09) return -1;
  }
  return -1;
}

function decode(buf: Buffer, start: number, end: number): string {
  const part = buf.subarray(start, end);
  return isUtf8(part) ? part.toString('utf8') : part.toString('latin1');
}

function toField(buf: Buffer, p: Pending): HeaderField {
  const name = buf.toString('latin1', p.start, p.nameEnd);
  const raw = buf.subarray(p.start, p.end);
  const s = p.segs;
  let value: string;
  if (s.length === 3) {
    value = decode(buf, s[0]!, s[1]!);
  } else {
    // Unfolding drops only the line breaks; the charset decision is made over the whole value.
    const parts: string[] = [];
    for (let i = 0; i < s.length; i += 3) {
      if (s[i + 2] === 1) parts.push(' ');
      parts.push(buf.toString('latin1', s[i]!, s[i + 1]!));
    }
    const joined = Buffer.from(parts.join(''), 'latin1');
    value = isUtf8(joined) ? joined.toString('utf8') : parts.join('');
  }
  return { name, value: trimWsp(value), raw };
}

function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWs(s.charCodeAt(a))) a++;
  while (b > a && isWs(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

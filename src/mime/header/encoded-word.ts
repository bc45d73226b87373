/**
 * RFC 2047 encoded words (`=?charset?B|Q?text?=`), decoding and encoding, with the RFC 2231 §5
 * language suffix (`=?utf-8*ko?B?...?=`).
 *
 * Decoding is lenient, as mail in the wild needs:
 * 1. Adjacent encoded words separated only by whitespace lose that whitespace (§6.2), and their
 *    bytes are joined BEFORE charset decoding when the charsets match, because many encoders
 *    (Korean and Japanese mailers especially) split a multi-byte character across two words.
 * 2. Encoded words glued to surrounding text (`abc=?utf-8?Q?x?=def`) are decoded too.
 * 3. Base64 split mid-quantum across adjacent words is re-joined before decoding.
 * 4. Anything malformed (unknown encoding letter, bad base64 alphabet, whitespace inside) is left
 *    exactly as written. An unknown charset decodes as UTF-8-or-latin1 (see charset.ts).
 * Decoding never throws.
 *
 * Encoding writes only UTF-8 words of at most 75 characters (§2), choosing B or Q by length, and
 * never splits a code point across words, so each word decodes on its own.
 */
import { decodeCharset } from '../entity/charset.js';

/** RFC 2047 §2: an encoded word may not be more than 75 characters long. */
export const MAX_ENCODED_WORD_LENGTH = 75;

const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

interface Word {
  start: number;
  end: number;
  charset: string;
  b: boolean;
  text: string;
}

/**
 * Memoised forward search. Candidate positions only grow while a header is scanned, so each
 * answer is reused until passed; this keeps hostile input ("=?a?q?" repeated, no "?=") linear.
 */
class Finder {
  private from = Number.POSITIVE_INFINITY;
  private pos = -1;
  constructor(
    private readonly s: string,
    private readonly test: (s: string, from: number) => number,
  ) {}
  find(t: number): number {
    if (t >= this.from && (this.pos < 0 || this.pos >= t)) return this.pos;
    this.from = t;
    this.pos = this.test(this.s, t);
    return this.pos;
  }
}

function indexOfWsp(s: string, from: number): number {
  for (let i = from; i < s.length; i++) if (isWsp(s.charCodeAt(i))) return i;
  return -1;
}

function indexOfClose(s: string, from: number): number {
  return s.indexOf('?=', from);
}

/** Parses one encoded word beginning at `start` ("=?"), or undefined if malformed. */
function readWord(s: string, start: number, close: Finder, wsp: Finder): Word | undefined {
  const q1 = s.indexOf('?', start + 2);
  if (q1 < 0 || q1 === start + 2) return undefined;
  const enc = s.charCodeAt(q1 + 1);
  if (s.charCodeAt(q1 + 2) !== 0x3f /* ? */) return undefined;
  const b = enc === 0x42 || enc === 0x62;
  if (!b && enc !== 0x51 && enc !== 0x71) return undefined;
  const textStart = q1 + 3;
  const end = close.find(textStart);
  if (end < 0) return undefined;
  const ws = wsp.find(start);
  if (ws >= 0 && ws < end) return undefined;
  let charset = s.slice(start + 2, q1);
  if (charset.includes('=')) return undefined;
  const star = charset.indexOf('*');
  if (star >= 0) charset = charset.slice(0, star);
  const text = s.slice(textStart, end);
  if (b && !B64_RE.test(text)) return undefined;
  return { start, end: end + 2, charset: charset.toLowerCase(), b, text };
}

function isWsp(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

function decodeQ(text: string): Buffer {
  const out = Buffer.allocUnsafe(text.length * 3);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5f /* _ */) {
      out[n++] = 0x20;
    } else if (
      c === 0x3d /* = */ &&
      i + 2 < text.length &&
      isHex(text.charCodeAt(i + 1)) &&
      isHex(text.charCodeAt(i + 2))
    ) {
      out[n++] = Number.parseInt(text.slice(i + 1, i + 3), 16);
      i += 2;
    } else if (c < 0x80) {
      out[n++] = c;
    } else {
      n += out.write(text[i]!, n, 'utf8');
    }
  }
  return out.subarray(0, n);
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Decodes a run of adjacent encoded words; consecutive words of one charset share one byte run. */
function decodeRun(words: Word[]): string {
  let out = '';
  let i = 0;
  while (i < words.length) {
    const charset = words[i]!.charset;
    const chunks: Buffer[] = [];
    let b64 = '';
    let j = i;
    for (; j < words.length && words[j]!.charset === charset; j++) {
      const w = words[j]!;
      if (w.b) {
        b64 += w.text;
        // Only a complete quantum may be decoded; a word cut mid-quantum continues in the next.
        if (b64.length % 4 === 0 || b64.endsWith('=')) {
          chunks.push(Buffer.from(b64, 'base64'));
          b64 = '';
        }
      } else {
        if (b64) {
          chunks.push(Buffer.from(b64, 'base64'));
          b64 = '';
        }
        chunks.push(decodeQ(w.text));
      }
    }
    if (b64) chunks.push(Buffer.from(b64, 'base64'));
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    out += decodeCharset(bytes, charset).text;
    i = j;
  }
  return out;
}

/** Decodes every RFC 2047 encoded word in unstructured text; see the module comment. */
export function decodeEncodedWords(text: string): string {
  let at = text.indexOf('=?');
  if (at < 0) return text;
  const parts: string[] = [];
  let copied = 0;
  let run: Word[] = [];
  let runEnd = 0;
  const close = new Finder(text, indexOfClose);
  const wsp = new Finder(text, indexOfWsp);
  while (at >= 0) {
    const w = readWord(text, at, close, wsp);
    if (w === undefined) {
      at = text.indexOf('=?', at + 2);
      continue;
    }
    let joinable = run.length > 0;
    if (joinable) {
      for (let k = runEnd; k < w.start; k++) {
        if (!isWsp(text.charCodeAt(k))) {
          joinable = false;
          break;
        }
      }
    }
    if (!joinable) {
      if (run.length > 0) {
        parts.push(decodeRun(run));
        copied = runEnd;
        run = [];
      }
      parts.push(text.slice(copied, w.start));
    }
    run.push(w);
    runEnd = w.end;
    copied = w.end;
    at = text.indexOf('=?', w.end);
  }
  if (run.length > 0) parts.push(decodeRun(run));
  parts.push(text.slice(copied));
  return parts.join('');
}

/** True when the text can appear in a header as is: printable ASCII, SP, HTAB, no "=?". */
function isPlain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c > 0x7e) return false;
  }
  return !s.includes('=?');
}

const PREFIX = '=?UTF-8?';
const OVERHEAD = PREFIX.length + 4; // "B?" + "?="

/** RFC 2047 §5(3): in a phrase only these may appear unencoded in Q text. */
function qSafe(c: number, structured: boolean): boolean {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  if (structured) return c === 0x21 || c === 0x2a || c === 0x2b || c === 0x2d || c === 0x2f;
  return (
    c > 0x20 && c < 0x7f && c !== 0x3d && c !== 0x3f && c !== 0x5f && c !== 0x28 && c !== 0x29 && c !== 0x22
  );
}

function qEncode(cp: string, structured: boolean): string {
  const c = cp.charCodeAt(0);
  if (cp.length === 1 && c < 0x80) {
    if (c === 0x20) return '_';
    if (qSafe(c, structured)) return cp;
    return '=' + (c < 16 ? '0' : '') + c.toString(16).toUpperCase();
  }
  let s = '';
  for (const byte of Buffer.from(cp, 'utf8')) s += '=' + byte.toString(16).toUpperCase().padStart(2, '0');
  return s;
}

/** Encodes a string as UTF-8 encoded words joined by single spaces (dropped again on decoding). */
function encodeWords(text: string, structured: boolean): string {
  const cps = Array.from(text);
  let qLen = 0;
  for (const cp of cps) qLen += qEncode(cp, structured).length;
  const bytes = Buffer.byteLength(text, 'utf8');
  const bLen = Math.ceil(bytes / 3) * 4;
  const room = MAX_ENCODED_WORD_LENGTH - OVERHEAD;
  const words: string[] = [];
  if (qLen <= bLen) {
    let cur = '';
    for (const cp of cps) {
      const e = qEncode(cp, structured);
      if (cur.length + e.length > room) {
        words.push(PREFIX + 'Q?' + cur + '?=');
        cur = '';
      }
      cur += e;
    }
    words.push(PREFIX + 'Q?' + cur + '?=');
  } else {
    const maxBytes = (room >> 2) * 3;
    let start = 0;
    let size = 0;
    let i = 0;
    for (; i < cps.length; i++) {
      const n = Buffer.byteLength(cps[i]!, 'utf8');
      if (size + n > maxBytes) {
        words.push(
          PREFIX + 'B?' + Buffer.from(cps.slice(start, i).join(''), 'utf8').toString('base64') + '?=',
        );
        start = i;
        size = 0;
      }
      size += n;
    }
    words.push(PREFIX + 'B?' + Buffer.from(cps.slice(start, i).join(''), 'utf8').toString('base64') + '?=');
  }
  return words.join(' ');
}

/**
 * Returns the text unchanged when it is printable ASCII (and has no "=?"), otherwise RFC 2047
 * UTF-8 encoded words. Unstructured (default): only the runs of words that need it are encoded,
 * the rest stays readable. `structured`: the whole text becomes encoded words using the restricted
 * Q alphabet of §5(3), so it is safe as a display name (a phrase).
 */
export function encodeHeaderValue(text: string, opts?: { structured?: boolean }): string {
  if (isPlain(text)) return text;
  if (opts?.structured) return encodeWords(text, true);
  // Split into alternating whitespace / word tokens; encode maximal runs of words needing it,
  // including the whitespace between them (whitespace between encoded words is not displayed).
  const tokens = text.split(/([ \t]+)/);
  const out: string[] = [];
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (i % 2 === 1 || isPlain(t)) {
      out.push(t);
      i++;
      continue;
    }
    let j = i;
    // Extend over "ws word" pairs while the next word also needs encoding.
    while (j + 2 < tokens.length && !isPlain(tokens[j + 2]!)) j += 2;
    out.push(encodeWords(tokens.slice(i, j + 1).join(''), false));
    i = j + 1;
  }
  return out.join('');
}

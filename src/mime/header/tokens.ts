/**
 * Lexical tokens of structured header fields (RFC 5322 §3.2: atoms, quoted strings, comments,
 * domain literals, specials), with RFC 6532 UTF-8 allowed wherever text is.
 *
 * The tokenizer is lenient and linear: it never fails. An unterminated quoted string, comment or
 * domain literal runs to the end of the input; stray `)`, `]` and `\` count as atom text. Each
 * token remembers whether whitespace preceded it, so display names keep their spacing, and its
 * position in the input for error messages.
 */

export type TokenKind = 'atom' | 'quoted' | 'comment' | 'literal' | 'special';

export interface Token {
  kind: TokenKind;
  /** Atom text; quoted-string / comment content with quoted-pairs resolved; `[..]` literal as written. */
  value: string;
  /** Whitespace (or a comment) came right before this token. */
  ws: boolean;
  /** Offset of the token's first character in the input. */
  pos: number;
}

/** Character classes for the tokenizer (ASCII only; everything ≥ 0x80 is atom text, RFC 6532). */
const ATOM = 0;
const WS = 1;
const SPECIAL = 2; // RFC 5322 specials handled as single-character tokens: < > @ , : ;
const OPENER = 3; // " ( [ open their own token kinds
const CLASS = new Uint8Array(128);
for (const ch of ' \t\r\n') CLASS[ch.charCodeAt(0)] = WS;
for (const ch of '<>@,:;') CLASS[ch.charCodeAt(0)] = SPECIAL;
for (const ch of '"([') CLASS[ch.charCodeAt(0)] = OPENER;

function classOf(c: number): number {
  return c < 128 ? CLASS[c]! : ATOM;
}

/** RFC 5322 §3.2.3 atext, plus UTF-8 (RFC 6532 §3.2). */
const ATEXT = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) ATEXT[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) ATEXT[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) ATEXT[c] = 1;
for (const ch of "!#$%&'*+-/=?^_`{|}~") ATEXT[ch.charCodeAt(0)] = 1;

export function isAtext(c: number): boolean {
  return c >= 0x80 || (c >= 0 && ATEXT[c] === 1);
}

/** Splits a structured field value into tokens; '.' is part of atoms (dot-atom, obs-phrase). */
export function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let ws = false;
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    const k = classOf(c);
    if (k === WS) {
      ws = true;
      i++;
    } else if (k === ATOM) {
      const start = i;
      i++;
      while (i < n && classOf(s.charCodeAt(i)) === ATOM) i++;
      out.push({ kind: 'atom', value: s.slice(start, i), ws, pos: start });
      ws = false;
    } else if (k === SPECIAL) {
      out.push({ kind: 'special', value: s[i]!, ws, pos: i });
      i++;
      ws = false;
    } else if (c === 0x22 /* " */) {
      const start = i;
      const [value, end] = readDelimited(s, i + 1, 0x22);
      out.push({ kind: 'quoted', value, ws, pos: start });
      i = end;
      ws = false;
    } else if (c === 0x28 /* ( */) {
      const start = i;
      const [value, end] = readComment(s, i);
      out.push({ kind: 'comment', value, ws, pos: start });
      i = end;
      ws = true;
    } else {
      // "[" domain literal
      const close = s.indexOf(']', i + 1);
      const end = close < 0 ? n : close + 1;
      out.push({ kind: 'literal', value: s.slice(i, end), ws, pos: i });
      i = end;
      ws = false;
    }
  }
  return out;
}

/** Content up to the unescaped `close` character; returns [content, index after close]. */
function readDelimited(s: string, i: number, close: number): [string, number] {
  const parts: string[] = [];
  let start = i;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === close) {
      parts.push(s.slice(start, i));
      return [parts.join(''), i + 1];
    }
    if (c === 0x5c && i + 1 < s.length) {
      parts.push(s.slice(start, i));
      start = i + 1;
      i += 2;
      continue;
    }
    if (c === 0x0d || c === 0x0a) {
      // FWS inside a quoted string: the line break is not part of the content (§3.2.4).
      parts.push(s.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  parts.push(s.slice(start));
  return [parts.join(''), s.length];
}

/** A comment starting at `(`, nested comments included in the content; returns [content, end]. */
export function readComment(s: string, i: number): [string, number] {
  let depth = 0;
  const parts: string[] = [];
  let start = i + 1;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c && i + 1 < s.length) {
      parts.push(s.slice(start, i));
      start = i + 1;
      i++;
    } else if (c === 0x28) {
      depth++;
    } else if (c === 0x29 && --depth === 0) {
      parts.push(s.slice(start, i));
      return [parts.join(''), i + 1];
    }
  }
  parts.push(s.slice(start));
  return [parts.join(''), s.length];
}

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

/** RFC 5322 specials handled as single-character tokens (quote, paren and bracket open their own). */
const SPECIALS = new Set(Array.from('<>@,:;', (ch) => ch.charCodeAt(0)));

/** RFC 5322 §3.2.3 atext, plus UTF-8 (RFC 6532 §3.2). */
export function isAtext(c: number): boolean {
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39)) return true;
  if (c >= 0x80) return true;
  switch (c) {
    case 0x21: // !
    case 0x23: // #
    case 0x24: // $
    case 0x25: // %
    case 0x26: // &
    case 0x27: // '
    case 0x2a: // *
    case 0x2b: // +
    case 0x2d: // -
    case 0x2f: // /
    case 0x3d: // =
    case 0x3f: // ?
    case 0x5e: // ^
    case 0x5f: // _
    case 0x60: // `
    case 0x7b: // {
    case 0x7c: // |
    case 0x7d: // }
    case 0x7e: // ~
      return true;
    default:
      return false;
  }
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** Splits a structured field value into tokens; '.' is part of atoms (dot-atom, obs-phrase). */
export function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let ws = false;
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (isWs(c)) {
      ws = true;
      i++;
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
    } else if (c === 0x5b /* [ */) {
      const close = s.indexOf(']', i + 1);
      const end = close < 0 ? n : close + 1;
      out.push({ kind: 'literal', value: s.slice(i, end), ws, pos: i });
      i = end;
      ws = false;
    } else if (SPECIALS.has(c)) {
      out.push({ kind: 'special', value: s[i]!, ws, pos: i });
      i++;
      ws = false;
    } else {
      const start = i;
      while (i < n) {
        const d = s.charCodeAt(i);
        if (isWs(d) || d === 0x22 || d === 0x28 || d === 0x5b || SPECIALS.has(d)) break;
        i++;
      }
      out.push({ kind: 'atom', value: s.slice(start, i), ws, pos: start });
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

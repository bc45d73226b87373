/**
 * A strict scanner for the lexical tokens of RFC 5322 §3.2 (CFWS, atoms, dot-atoms, quoted
 * strings, domain literals), with RFC 6532 UTF-8 in atoms and quoted strings. Unlike tokens.ts it
 * accepts only valid syntax: every violation throws the error the caller supplies, with the
 * 0-based offset where it happened. Used for input people type (addresses on a command line).
 */
import { isAtext } from './tokens.js';

export class StrictScanner {
  pos = 0;
  /** Text of the first comment skipped (RFC 5322 allows it as a name hint). */
  comment: string | undefined;
  constructor(
    readonly s: string,
    private readonly error: (message: string, position: number) => Error,
  ) {}

  /** Throws the caller's error type with a message naming the 0-based position. */
  fail(msg: string, at = this.pos): never {
    throw this.error(`${msg} at position ${at}`, at);
  }

  code(): number {
    return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : -1;
  }

  expect(ch: string, what = `"${ch}"`): void {
    if (this.s[this.pos] !== ch) this.fail(this.pos < this.s.length ? `expected ${what}` : `missing ${what}`);
    this.pos++;
  }

  /** CFWS (RFC 5322 §3.2.2); the first comment's text is remembered as a fallback name. */
  cfws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
        this.pos++;
        continue;
      }
      if (c !== 0x28) return;
      const start = this.pos;
      let depth = 0;
      for (; this.pos < s.length; this.pos++) {
        const d = s.charCodeAt(this.pos);
        if (d === 0x5c) this.pos++;
        else if (d === 0x28) depth++;
        else if (d === 0x29 && --depth === 0) break;
      }
      if (depth !== 0) this.fail('unterminated comment', start);
      this.pos++;
      this.comment ??= s.slice(start + 1, this.pos - 1).replace(/\\(.)/g, '$1');
    }
  }

  atom(dots: boolean): string {
    const start = this.pos;
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (!isAtext(c) && !(dots && c === 0x2e)) break;
      this.pos++;
    }
    return this.s.slice(start, this.pos);
  }

  dotAtom(what: string): string {
    const start = this.pos;
    for (;;) {
      if (this.atom(false) === '')
        this.fail(this.pos === start ? `expected ${what}` : 'empty label in dot-atom');
      if (this.code() !== 0x2e) break;
      this.pos++;
    }
    return this.s.slice(start, this.pos);
  }

  /** quoted-string content (RFC 5322 §3.2.4, UTF-8 per RFC 6532). */
  quoted(): string {
    const start = this.pos;
    this.pos++;
    const parts: string[] = [];
    let from = this.pos;
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x22) {
        parts.push(this.s.slice(from, this.pos));
        this.pos++;
        return parts.join('');
      }
      if (c === 0x5c) {
        const e = this.s.charCodeAt(this.pos + 1);
        if (!(e === 0x09 || (e >= 0x20 && e !== 0x7f))) this.fail('bad quoted-pair', this.pos);
        parts.push(this.s.slice(from, this.pos));
        from = this.pos + 1;
        this.pos += 2;
        continue;
      }
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) this.fail('control character in quoted string');
      this.pos++;
    }
    return this.fail('unterminated quoted string', start);
  }

  /** phrase (with obs-phrase dots): the words, or [] when none start here. */
  phrase(): string[] {
    const words: string[] = [];
    for (;;) {
      this.cfws();
      const c = this.code();
      if (c === 0x22) words.push(this.quoted());
      else if (isAtext(c)) words.push(this.atom(true));
      else return words;
    }
  }

  domainLiteral(): string {
    const start = this.pos;
    const close = this.s.indexOf(']', start);
    if (close < 0) this.fail('unterminated domain literal', start);
    for (let i = start + 1; i < close; i++) {
      const c = this.s.charCodeAt(i);
      if (c < 0x21 || c === 0x5b || c === 0x5c || c === 0x7f) this.fail('bad character in domain literal', i);
    }
    this.pos = close + 1;
    return this.s.slice(start, close + 1);
  }
}

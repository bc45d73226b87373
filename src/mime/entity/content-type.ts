/**
 * Content-Type (RFC 2045 §5, RFC 2046) and Content-Disposition (RFC 2183) header values, with
 * parameters decoded per RFC 2231 (see rfc2231.ts).
 *
 * Reading is lenient and records defects: comments anywhere (RFC 822 CFWS), a missing `;` between
 * parameters ('MissingSemicolon'), unquoted values containing tspecials (`boundary==_Part_1`) or
 * spaces (`name=my file.pdf`), unterminated quotes, duplicate parameters (first wins). A missing
 * Content-Type is the RFC 2045 §5.2 default `text/plain; charset=us-ascii`; an unparsable one
 * becomes that default plus an 'InvalidContentType' defect. Nothing here throws.
 */
import type { Defect } from '../defects.js';
import { assembleParams, formatParams, isToken, type RawParam } from './rfc2231.js';

export { formatParams } from './rfc2231.js';

export interface ContentType {
  /** Lowercase top-level type, e.g. 'text'. */
  type: string;
  /** Lowercase subtype, e.g. 'plain'. */
  subtype: string;
  /** `type/subtype`, lowercase. */
  mediaType: string;
  /** Lowercase parameter names to decoded values. */
  params: Record<string, string>;
}

export interface ContentDisposition {
  /** Lowercase disposition type: 'inline', 'attachment', ... */
  type: string;
  params: Record<string, string>;
}

function defaultType(): ContentType {
  return { type: 'text', subtype: 'plain', mediaType: 'text/plain', params: { charset: 'us-ascii' } };
}

/** Parses a Content-Type value; see the module comment for the leniency rules. */
export function parseContentType(value: string | undefined): { value: ContentType; defects: Defect[] } {
  const defects: Defect[] = [];
  if (value === undefined || value.trim() === '') return { value: defaultType(), defects };
  const sc = new Scanner(value);
  sc.skipCfws();
  const type = sc.token().toLowerCase();
  sc.skipCfws();
  let subtype = '';
  if (sc.peek() === 0x2f /* / */) {
    sc.pos++;
    sc.skipCfws();
    subtype = sc.token().toLowerCase();
  }
  if (type === '' || subtype === '') {
    defects.push({ type: 'InvalidContentType', message: `invalid Content-Type "${value.slice(0, 80)}"` });
    return { value: defaultType(), defects };
  }
  const params = assembleParams(sc.params(defects), defects);
  return { value: { type, subtype, mediaType: type + '/' + subtype, params }, defects };
}

/** Parses a Content-Disposition value; undefined when absent or without a disposition type. */
export function parseContentDisposition(value: string | undefined): {
  value: ContentDisposition | undefined;
  defects: Defect[];
} {
  const defects: Defect[] = [];
  if (value === undefined || value.trim() === '') return { value: undefined, defects };
  const sc = new Scanner(value);
  sc.skipCfws();
  const type = sc.token().toLowerCase();
  if (type === '') {
    defects.push({
      type: 'InvalidContentDisposition',
      message: `invalid Content-Disposition "${value.slice(0, 80)}"`,
    });
    // `Content-Disposition: filename=x.pdf` occurs; keep the parameters, call it an attachment.
    const sc2 = new Scanner(value);
    const params = assembleParams(sc2.params(defects), defects);
    return Object.keys(params).length
      ? { value: { type: 'attachment', params }, defects }
      : { value: undefined, defects };
  }
  if (sc.peek() === 0x3d /* = */) {
    defects.push({ type: 'InvalidContentDisposition', message: 'Content-Disposition without a type' });
    const params = assembleParams(new Scanner(value).params(defects), defects);
    return { value: { type: 'attachment', params }, defects };
  }
  const params = assembleParams(sc.params(defects), defects);
  return { value: { type, params }, defects };
}

/** `type/subtype; name=value...` ready for a header (fold it with foldHeader). */
export function formatContentType(mediaType: string, params?: Record<string, string>): string {
  return mediaType + (params ? formatParams(params) : '');
}

const TSPECIAL = new Set(Array.from('()<>@,;:\\"/[]?=', (ch) => ch.charCodeAt(0)));

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}

  peek(): number {
    return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : -1;
  }

  /** Skips whitespace and (nested, escaped) comments; an unterminated comment runs to the end. */
  skipCfws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
        this.pos++;
      } else if (c === 0x28 /* ( */) {
        let depth = 0;
        for (; this.pos < s.length; this.pos++) {
          const d = s.charCodeAt(this.pos);
          if (d === 0x5c) this.pos++;
          else if (d === 0x28) depth++;
          else if (d === 0x29 && --depth === 0) {
            this.pos++;
            break;
          }
        }
      } else {
        return;
      }
    }
  }

  token(): string {
    const start = this.pos;
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c <= 0x20 || c === 0x7f || TSPECIAL.has(c)) break;
      this.pos++;
    }
    return s.slice(start, this.pos);
  }

  quoted(defects: Defect[]): string {
    const s = this.s;
    this.pos++; // opening quote
    const parts: string[] = [];
    let start = this.pos;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x22) {
        parts.push(s.slice(start, this.pos));
        this.pos++;
        return parts.join('');
      }
      if (c === 0x5c && this.pos + 1 < s.length) {
        parts.push(s.slice(start, this.pos));
        start = this.pos + 1;
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    defects.push({
      type: 'UnterminatedQuotedString',
      message: 'quoted parameter value without closing quote',
    });
    parts.push(s.slice(start));
    return parts.join('');
  }

  /** A parameter name: anything up to "=", ";", whitespace, a comment or a quote. */
  private paramName(): string {
    const s = this.s;
    const start = this.pos;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x3d || c === 0x3b || c <= 0x20 || c === 0x28 || c === 0x22) break;
      this.pos++;
    }
    return s.slice(start, this.pos);
  }

  /** True when `token *WSP "="` starts at p: the next parameter after a forgotten ";". */
  private paramAhead(p: number): boolean {
    const s = this.s;
    const start = p;
    while (p < s.length) {
      const c = s.charCodeAt(p);
      if (c <= 0x20 || c === 0x7f || TSPECIAL.has(c)) break;
      p++;
    }
    if (p === start) return false;
    while (p < s.length && (s.charCodeAt(p) === 0x20 || s.charCodeAt(p) === 0x09)) p++;
    return s.charCodeAt(p) === 0x3d;
  }

  /** An unquoted value; words separated by spaces are kept together unless a parameter follows. */
  private bare(): string {
    const s = this.s;
    const start = this.pos;
    for (;;) {
      while (this.pos < s.length) {
        const c = s.charCodeAt(this.pos);
        if (c === 0x3b || c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a || c === 0x28 || c === 0x22)
          break;
        this.pos++;
      }
      let p = this.pos;
      while (p < s.length) {
        const c = s.charCodeAt(p);
        if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
        p++;
      }
      if (p === this.pos || p >= s.length) break;
      const c = s.charCodeAt(p);
      if (c === 0x3b || c === 0x28 || c === 0x22 || this.paramAhead(p)) break;
      this.pos = p;
    }
    return s.slice(start, this.pos);
  }

  /** Reads `; name=value` pairs to the end of the value. */
  params(defects: Defect[]): RawParam[] {
    const out: RawParam[] = [];
    const s = this.s;
    let reported = false;
    let sep = false;
    while (true) {
      this.skipCfws();
      if (this.pos >= s.length) break;
      if (this.peek() === 0x3b) {
        this.pos++;
        sep = true;
        continue;
      }
      if (!sep && !reported) {
        reported = true;
        defects.push({ type: 'MissingSemicolon', message: 'parameters not separated by ";"' });
      }
      sep = false;
      const nameStart = this.pos;
      const name = this.paramName().toLowerCase();
      this.skipCfws();
      if (name === '' || this.peek() !== 0x3d) {
        defects.push({
          type: 'InvalidParameter',
          message: `junk in parameters near "${s.slice(nameStart, nameStart + 20)}"`,
        });
        const semi = s.indexOf(';', Math.max(this.pos, nameStart + 1));
        this.pos = semi < 0 ? s.length : semi;
        continue;
      }
      this.pos++;
      this.skipCfws();
      if (this.peek() === 0x22) {
        out.push({ name, value: this.quoted(defects), quoted: true });
      } else {
        out.push({ name, value: this.bare(), quoted: false });
      }
    }
    return out;
  }
}

export { isToken };

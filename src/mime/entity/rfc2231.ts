/**
 * MIME parameter values: RFC 2045 §5.1 `attribute=value`, RFC 2231 extensions (continuations
 * `name*0=`, `name*1*=`, charset and language `name*=utf-8'ko'%ED%95%9C`) and, because Outlook and
 * Gmail still write them, RFC 2047 encoded words inside quoted values (which RFC 2047 §5 forbids).
 *
 * Reading is lenient (defects, never throws): sections are joined in numeric order even with
 * gaps; bytes of all sections are joined before charset decoding, so a character may straddle
 * sections; a bad `%` escape stays literal; an extended value without `charset'lang'` is read as
 * UTF-8-or-latin1. When both `name` and `name*` exist the RFC 2231 form wins (it is exact).
 * Writing is strict: token, else quoted-string, else RFC 2231 UTF-8 with short continuations.
 */
import type { Defect } from '../defects.js';
import { decodeEncodedWords } from '../header/encoded-word.js';
import { decodeCharset, decodeUtf8OrLatin1 } from './charset.js';

/** One `name=value` as read, before RFC 2231 assembly (name lowercased, quotes removed). */
export interface RawParam {
  name: string;
  value: string;
  quoted: boolean;
}

interface Sections {
  parts: { n: number; value: string; extended: boolean }[];
}

/** Assembles raw parameters into a record, applying RFC 2231 and RFC 2047 decoding. */
export function assembleParams(raw: RawParam[], defects: Defect[]): Record<string, string> {
  const out: Record<string, string> = {};
  let ext: Map<string, Sections> | undefined;
  for (const p of raw) {
    let name = p.name;
    const star = name.indexOf('*');
    if (star < 0) {
      if (name === '__proto__') continue;
      if (name in out) {
        defects.push({ type: 'DuplicateParameter', message: `duplicate parameter "${name}" ignored` });
        continue;
      }
      out[name] = p.value.includes('=?') ? decodeEncodedWords(p.value) : p.value;
      continue;
    }
    // name*  |  name*N  |  name*N*
    const extended = name.endsWith('*');
    if (extended) name = name.slice(0, -1);
    let n = 0;
    const s2 = name.indexOf('*');
    if (s2 >= 0) {
      const num = name.slice(s2 + 1);
      name = name.slice(0, s2);
      if (!/^\d{1,4}$/.test(num)) {
        defects.push({ type: 'InvalidParameter', message: `bad RFC 2231 section "${p.name}"` });
        continue;
      }
      n = Number(num);
    } else if (!extended) {
      continue;
    }
    if (name === '' || name === '__proto__') continue;
    ext ??= new Map();
    let sec = ext.get(name);
    if (!sec) ext.set(name, (sec = { parts: [] }));
    if (sec.parts.some((x) => x.n === n)) {
      defects.push({ type: 'DuplicateParameter', message: `duplicate section ${n} of "${name}" ignored` });
      continue;
    }
    sec.parts.push({ n, value: p.value, extended });
  }
  if (ext) {
    for (const [name, sec] of ext) out[name] = joinSections(name, sec, defects);
  }
  return out;
}

function joinSections(name: string, sec: Sections, defects: Defect[]): string {
  const parts = sec.parts.sort((a, b) => a.n - b.n);
  for (let i = 0; i < parts.length; i++) {
    if (parts[i]!.n !== i) {
      defects.push({
        type: 'InvalidParameter',
        message: `RFC 2231 sections of "${name}" are not contiguous`,
      });
      break;
    }
  }
  let charset: string | undefined;
  let anyExtended = false;
  const chunks: Buffer[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (!p.extended) {
      chunks.push(Buffer.from(p.value, 'utf8'));
      continue;
    }
    anyExtended = true;
    let v = p.value;
    if (i === 0) {
      // charset'language'value; the quotes are required but some writers leave them out.
      const q1 = v.indexOf("'");
      const q2 = q1 >= 0 ? v.indexOf("'", q1 + 1) : -1;
      if (q2 >= 0) {
        charset = v.slice(0, q1) || undefined;
        v = v.slice(q2 + 1);
      }
    }
    chunks.push(percentDecode(v));
  }
  const bytes = Buffer.concat(chunks);
  if (!anyExtended) {
    const text = bytes.toString('utf8');
    return text.includes('=?') ? decodeEncodedWords(text) : text;
  }
  if (charset === undefined) return decodeUtf8OrLatin1(bytes);
  const { text, defect } = decodeCharset(bytes, charset);
  if (defect) defects.push(defect);
  return text;
}

function percentDecode(v: string): Buffer {
  if (!v.includes('%')) return Buffer.from(v, 'utf8');
  const out = Buffer.allocUnsafe(Buffer.byteLength(v, 'utf8'));
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x25 && i + 2 < v.length && isHex(v.charCodeAt(i + 1)) && isHex(v.charCodeAt(i + 2))) {
      out[n++] = Number.parseInt(v.slice(i + 1, i + 3), 16);
      i += 2;
    } else if (c < 0x80) {
      out[n++] = c;
    } else {
      n += out.write(v[i]!, n, 'utf8');
    }
  }
  return out.subarray(0, n);
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** RFC 2045 §5.1 tspecials plus SPACE and CTLs are not token characters. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || TSPECIALS.has(c)) return false;
  }
  return true;
}

const TSPECIALS = new Set(Array.from('()<>@,;:\\"/[]?=', (ch) => ch.charCodeAt(0)));

/** RFC 2231 §7 attribute-char: token characters except "*", "'" and "%". */
function isAttrChar(c: number): boolean {
  return c > 0x20 && c < 0x7f && !TSPECIALS.has(c) && c !== 0x2a && c !== 0x27 && c !== 0x25;
}

/** Longest parameter segment we aim for, so a folded header keeps lines near 78 characters. */
const SEGMENT_TARGET = 76;

function quote(v: string): string {
  return '"' + v.replace(/[\\"]/g, '\\$&') + '"';
}

function isPrintableAscii(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/**
 * `; name=value` segments: token when possible, quoted string for other printable ASCII, RFC 2231
 * `name*=utf-8''%..` for anything else, split into `name*0*=`, `name*1*=` sections when long.
 */
export function formatParams(params: Record<string, string>): string {
  let out = '';
  for (const [name, value] of Object.entries(params)) {
    if (isToken(value)) {
      out += '; ' + name + '=' + value;
    } else if (isPrintableAscii(value) && name.length + value.length < 900 && !value.includes('=?')) {
      // ("=?" goes the RFC 2231 way: a reader would take it for an RFC 2047 word in quotes.)
      out += '; ' + name + '=' + quote(value);
    } else {
      out += formatExtended(name, value);
    }
  }
  return out;
}

function encodeCodePoint(cp: string): string {
  const c = cp.charCodeAt(0);
  if (cp.length === 1 && isAttrChar(c)) return cp;
  let s = '';
  for (const b of Buffer.from(cp, 'utf8')) s += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  return s;
}

function formatExtended(name: string, value: string): string {
  const encoded: string[] = [];
  let total = 0;
  for (const cp of value) {
    const e = encodeCodePoint(cp);
    encoded.push(e);
    total += e.length;
  }
  const prefix = "utf-8''";
  if (name.length + 2 + prefix.length + total <= SEGMENT_TARGET) {
    return '; ' + name + '*=' + prefix + encoded.join('');
  }
  // Sections never split a code point, so each one is readable by lenient decoders too.
  let out = '';
  let section = 0;
  let cur = prefix;
  for (const e of encoded) {
    const head = name.length + 5 + String(section).length;
    if (cur.length > 0 && head + cur.length + e.length > SEGMENT_TARGET && cur !== prefix) {
      out += '; ' + name + '*' + section + '*=' + cur;
      section++;
      cur = '';
    }
    cur += e;
  }
  out += '; ' + name + '*' + section + '*=' + cur;
  return out;
}

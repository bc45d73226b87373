/**
 * E-mail addresses: RFC 5322 §3.4 address lists (with the §4.4 obsolete forms), RFC 6532 UTF-8,
 * RFC 2047 encoded words in display names, RFC 5321 §4.1.2 SMTP paths, and IDNA domain helpers.
 *
 * Three readers for three jobs:
 * - `parseAddressList` reads header fields and never throws. It accepts what real mail contains
 *   and records defects: route addresses `<@a,@b:x@y>` (route dropped), a missing `>`, empty
 *   list elements and trailing commas, `;` used as a separator (Outlook users), a name without
 *   angle brackets, encoded words inside quoted names, and comments used as the name when there
 *   is no display name (`a@b (Name)`). Domains are kept as written (U-labels stay U-labels).
 * - `parseMailbox` is strict RFC 5322 (plus UTF-8, and obs-phrase dots in names) for input a
 *   person typed (CLI, web): it throws an AddressError naming the offending position.
 * - `parsePath` is strict RFC 5321 for SMTP `MAIL FROM`/`RCPT TO`, with the §4.5.3.1 length
 *   limits; UTF-8 only when the SMTPUTF8 extension (RFC 6531) is in effect.
 * Positions in errors are 0-based offsets into the input.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII, domainToUnicode as nodeDomainToUnicode } from 'node:url';
import type { Defect } from '../defects.js';
import { decodeEncodedWords, encodeHeaderValue } from '../header/encoded-word.js';
import { StrictScanner } from '../header/strict-scanner.js';
import { isAtext, type Token, tokenize } from '../header/tokens.js';

export type Mailbox = { name?: string; address: string };
export type Group = { group: string; members: Mailbox[] };
export type AddressItem = Mailbox | Group;

/** Invalid address syntax; `position` is the 0-based offset where parsing failed. */
export class AddressError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'AddressError';
  }
}

/** RFC 5321 §4.5.3.1.1: the maximum total length of a local part is 64 octets. */
export const MAX_LOCAL_PART_OCTETS = 64;
/** RFC 5321 §4.5.3.1.2: the maximum total length of a domain is 255 octets. */
export const MAX_DOMAIN_OCTETS = 255;
/** RFC 5321 §4.5.3.1.3: the maximum total length of a path is 256 octets, brackets included. */
export const MAX_PATH_OCTETS = 256;
/** RFC 1035 §2.3.4: labels are 63 octets or less. */
const MAX_LABEL_OCTETS = 63;

// ---------------------------------------------------------------------------------------------
// Lenient header reader

function isSpecial(t: Token | undefined, ch: string): boolean {
  return t !== undefined && t.kind === 'special' && t.value === ch;
}

/** Display-name text: words joined with single spaces where the input had space, RFC 2047 decoded. */
function phraseText(toks: Token[]): string {
  const parts: string[] = [];
  for (const t of toks) {
    if (t.kind === 'comment') continue;
    if (parts.length > 0 && t.ws) parts.push(' ');
    parts.push(t.value);
  }
  const s = parts.join('').trim();
  return s.includes('=?') ? decodeEncodedWords(s) : s;
}

function isDotAtom(s: string): boolean {
  if (s.length === 0) return false;
  let prevDot = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (prevDot) return false;
      prevDot = true;
    } else if (isAtext(c)) {
      prevDot = false;
    } else {
      return false;
    }
  }
  return !prevDot;
}

function quoteString(s: string): string {
  return '"' + s.replace(/[\\"]/g, '\\$&') + '"';
}

/** addr-spec from tokens (comments ignored); a quoted local part is unquoted when it needs none. */
function addrSpec(toks: Token[], defects: Defect[]): string {
  const parts = toks.filter((t) => t.kind !== 'comment');
  if (parts.length === 0) return '';
  const at = parts.findIndex((t) => isSpecial(t, '@'));
  const localToks = at < 0 ? parts : parts.slice(0, at);
  const local = localToks.map((t) => t.value).join('');
  const quoted = localToks.some((t) => t.kind === 'quoted');
  const localOut = quoted && !isDotAtom(local) ? quoteString(local) : local;
  if (at < 0) {
    defects.push({ type: 'MissingAtSign', message: `address "${local.slice(0, 80)}" has no domain` });
    return localOut;
  }
  const domain = parts
    .slice(at + 1)
    .map((t) => t.value)
    .join('');
  if (domain === '')
    defects.push({ type: 'MissingDomain', message: `address "${local.slice(0, 80)}@" has no domain` });
  return localOut + '@' + domain;
}

function buildMailbox(toks: Token[], defects: Defect[]): Mailbox | undefined {
  if (!toks.some((t) => t.kind !== 'comment')) return undefined;
  let name: string | undefined;
  let address: string;
  let junk = false;
  const lt = toks.findIndex((t) => isSpecial(t, '<'));
  if (lt >= 0) {
    let gt = toks.findIndex((t, i) => i > lt && isSpecial(t, '>'));
    if (gt < 0) gt = toks.length;
    name = phraseText(toks.slice(0, lt));
    let inner = toks.slice(lt + 1, gt);
    let colon = -1;
    for (let i = inner.length - 1; i >= 0; i--) {
      if (isSpecial(inner[i], ':')) {
        colon = i;
        break;
      }
    }
    if (colon >= 0) {
      defects.push({ type: 'ObsoleteRoute', message: 'source route in address dropped' });
      inner = inner.slice(colon + 1);
    }
    address = addrSpec(inner, defects);
    junk = toks.slice(gt + 1).some((t) => t.kind !== 'comment');
  } else {
    const at = toks.findIndex((t) => isSpecial(t, '@'));
    if (at < 0) {
      address = addrSpec(toks, defects);
    } else {
      const isWord = (t: Token) => t.kind === 'atom' || t.kind === 'quoted';
      const isDom = (t: Token) => t.kind === 'atom' || t.kind === 'literal';
      // Adjacent without space, or joined by a dot with CFWS around it (obs-local-part, obs-domain).
      const joined = (a: Token, b: Token) => !b.ws || a.value.endsWith('.') || b.value.startsWith('.');
      let start = at;
      while (
        start > 0 &&
        isWord(toks[start - 1]!) &&
        (start === at || joined(toks[start - 1]!, toks[start]!))
      )
        start--;
      let end = at + 1;
      while (end < toks.length && isDom(toks[end]!) && (end === at + 1 || joined(toks[end - 1]!, toks[end]!)))
        end++;
      address = addrSpec(toks.slice(start, end), defects);
      const pre = toks.slice(0, start);
      if (pre.some((t) => t.kind !== 'comment')) {
        defects.push({ type: 'MissingAngleBrackets', message: 'display name without <> around the address' });
        name = phraseText(pre);
      }
      junk = toks.slice(end).some((t) => t.kind !== 'comment');
    }
  }
  if (junk)
    defects.push({
      type: 'InvalidAddress',
      message: `unexpected text after address "${address.slice(0, 80)}"`,
    });
  if (!name) {
    const c = toks.find((t) => t.kind === 'comment');
    if (c) name = decodeEncodedWords(c.value.trim());
  }
  return name ? { name, address } : { address };
}

/** Reads an address-list header value (To, Cc, From, Reply-To...); never throws. */
export function parseAddressList(value: string): { value: AddressItem[]; defects: Defect[] } {
  const defects: Defect[] = [];
  const toks = tokenize(value);
  const items: AddressItem[] = [];
  let group: Group | undefined;
  let cur: Token[] = [];
  let inAngle = false;
  const flush = () => {
    if (inAngle) {
      defects.push({ type: 'MissingAngleClose', message: 'address without closing ">"' });
      inAngle = false;
    }
    const m = cur.length > 0 ? buildMailbox(cur, defects) : undefined;
    cur = [];
    if (m === undefined) return;
    if (group) group.members.push(m);
    else items.push(m);
  };
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.kind !== 'special') {
      cur.push(t);
      continue;
    }
    switch (t.value) {
      case '<':
        if (inAngle) defects.push({ type: 'InvalidAddress', message: 'nested "<" ignored' });
        else {
          inAngle = true;
          cur.push(t);
        }
        break;
      case '>':
        if (inAngle) {
          inAngle = false;
          cur.push(t);
        } else defects.push({ type: 'InvalidAddress', message: 'stray ">" ignored' });
        break;
      case ',':
        // Inside <...> a comma followed by "@" belongs to an obsolete source route.
        if (inAngle && isSpecial(toks[i + 1], '@')) cur.push(t);
        else flush();
        break;
      case ':':
        if (inAngle) cur.push(t);
        else if (!group && !cur.some((x) => x.kind === 'special')) {
          group = { group: phraseText(cur), members: [] };
          cur = [];
        } else defects.push({ type: 'InvalidAddress', message: 'unexpected ":" ignored' });
        break;
      case ';':
        flush();
        if (group) {
          items.push(group);
          group = undefined;
        } else defects.push({ type: 'InvalidAddress', message: '";" used as an address separator' });
        break;
      default:
        cur.push(t);
    }
  }
  flush();
  if (group) {
    defects.push({
      type: 'MissingGroupEnd',
      message: `group "${group.group.slice(0, 80)}" without closing ";"`,
    });
    items.push(group);
  }
  return { value: items, defects };
}

// ---------------------------------------------------------------------------------------------
// Strict readers

class Strict extends StrictScanner {
  constructor(s: string) {
    super(s, (message, position) => new AddressError(message, position));
  }

  addrSpec(): string {
    this.cfws();
    let local: string;
    if (this.code() === 0x22) {
      const q = this.quoted();
      local = isDotAtom(q) ? q : quoteString(q);
    } else {
      local = this.dotAtom('local part');
    }
    this.cfws();
    this.expect('@');
    this.cfws();
    const domStart = this.pos;
    let domain: string;
    if (this.code() === 0x5b) {
      domain = this.domainLiteral();
    } else {
      domain = this.dotAtom('domain');
      if (!isValidDomain(domain)) this.fail(`invalid domain "${domain.slice(0, 80)}"`, domStart);
    }
    this.cfws();
    return local + '@' + domain;
  }

  angleAddr(): string {
    this.expect('<');
    const a = this.addrSpec();
    this.expect('>');
    return a;
  }
}

/**
 * Strict RFC 5322 mailbox (`Name <a@b>` or `a@b`), for input people type. Throws AddressError.
 * The domain must also be a valid host name (LDH or U-labels) or an address literal.
 */
export function parseMailbox(value: string): Mailbox {
  const p = new Strict(value);
  p.cfws();
  let name: string | undefined;
  let address: string;
  if (p.code() === 0x3c) {
    address = p.angleAddr();
  } else {
    const start = p.pos;
    const words = p.phrase();
    if (words.length > 0 && p.code() === 0x3c) {
      const joined = words.join(' ');
      name = joined.includes('=?') ? decodeEncodedWords(joined) : joined;
      address = p.angleAddr();
    } else {
      p.pos = start;
      p.comment = undefined;
      address = p.addrSpec();
    }
  }
  p.cfws();
  if (p.pos < value.length) p.fail(`unexpected "${value[p.pos]}"`);
  name ||= p.comment?.trim() || undefined;
  return name ? { name, address } : { address };
}

/** RFC 5321 §4.1.2 sub-domain = Let-dig [Ldh-str]; with SMTPUTF8 (RFC 6531) U-labels too. */
function isLdhLabel(label: string): boolean {
  if (label.length === 0 || label.length > MAX_LABEL_OCTETS) return false;
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (!alnum && !(c === 0x2d && i > 0 && i < label.length - 1)) return false;
  }
  return true;
}

/** True for a syntactically valid host name: LDH labels (RFC 5321 §4.1.2), or U-labels via IDNA. */
export function isValidDomain(d: string): boolean {
  if (d.length === 0 || d.length > MAX_DOMAIN_OCTETS) return false;
  let ascii = d;
  for (let i = 0; i < d.length; i++) {
    if (d.charCodeAt(i) >= 0x80) {
      ascii = domainToASCII(d);
      if (ascii === '') return false;
      break;
    }
  }
  const labels = ascii.split('.');
  for (const l of labels) if (!isLdhLabel(l)) return false;
  return ascii.length <= MAX_DOMAIN_OCTETS;
}

export interface PathOptions {
  /** The SMTPUTF8 parameter was given: UTF-8 local parts and U-label domains are allowed. */
  smtputf8?: boolean;
  maxLocalPart?: number;
  maxDomain?: number;
  maxPath?: number;
}

/**
 * RFC 5321 §4.1.2 Reverse-path / Forward-path: `<local@domain>`, `<>` (null path → ''), source
 * routes `<@a,@b:u@d>` accepted and dropped (§C). Local part as written (quoted form kept).
 * Throws AddressError with the offending position.
 */
export function parsePath(value: string, opts?: PathOptions): string {
  const utf8 = opts?.smtputf8 === true;
  const p = new Strict(value);
  const maxPath = opts?.maxPath ?? MAX_PATH_OCTETS;
  if (Buffer.byteLength(value, 'utf8') > maxPath)
    throw new AddressError(`path longer than ${maxPath} octets`, 0);
  p.expect('<');
  if (p.code() === 0x3e) {
    p.pos++;
    if (p.pos < value.length) p.fail('unexpected text after path');
    return '';
  }
  if (p.code() === 0x40) {
    for (;;) {
      p.expect('@');
      smtpDomain(p, utf8);
      if (p.code() !== 0x2c) break;
      p.pos++;
    }
    p.expect(':', '":" after source route');
  }
  const localStart = p.pos;
  if (p.code() === 0x22) {
    p.pos++;
    for (;;) {
      const c = p.code();
      if (c === 0x22) break;
      if (c === 0x5c) {
        const e = value.charCodeAt(p.pos + 1);
        if (!(e >= 0x20 && e <= 0x7e)) p.fail('bad quoted-pair');
        p.pos += 2;
      } else if ((c >= 0x20 && c <= 0x7e) || (utf8 && c >= 0x80)) p.pos++;
      else p.fail(c < 0 ? 'unterminated quoted string' : 'bad character in quoted local part');
    }
    p.pos++;
  } else {
    const start = p.pos;
    for (;;) {
      const s0 = p.pos;
      while (p.pos < value.length) {
        const c = value.charCodeAt(p.pos);
        if (!isAtext(c) || (c >= 0x80 && !utf8)) break;
        p.pos++;
      }
      if (p.pos === s0) p.fail(p.pos === start ? 'expected local part' : 'empty atom in local part');
      if (p.code() !== 0x2e) break;
      p.pos++;
    }
  }
  const local = value.slice(localStart, p.pos);
  const maxLocal = opts?.maxLocalPart ?? MAX_LOCAL_PART_OCTETS;
  if (Buffer.byteLength(local, 'utf8') > maxLocal)
    p.fail(`local part longer than ${maxLocal} octets`, localStart);
  p.expect('@');
  const domStart = p.pos;
  let domain: string;
  if (p.code() === 0x5b) domain = addressLiteral(p);
  else domain = smtpDomain(p, utf8);
  const maxDomain = opts?.maxDomain ?? MAX_DOMAIN_OCTETS;
  if (Buffer.byteLength(domain, 'utf8') > maxDomain)
    p.fail(`domain longer than ${maxDomain} octets`, domStart);
  p.expect('>');
  if (p.pos < value.length) p.fail('unexpected text after path');
  return local + '@' + domain;
}

function smtpDomain(p: Strict, utf8: boolean): string {
  const start = p.pos;
  const s = p.s;
  while (p.pos < s.length) {
    const c = s.charCodeAt(p.pos);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x2d ||
      c === 0x2e ||
      (utf8 && c >= 0x80);
    if (!ok) break;
    p.pos++;
  }
  const d = s.slice(start, p.pos);
  if (d === '') p.fail('expected domain');
  if (!isValidDomain(d)) p.fail(`invalid domain "${d.slice(0, 80)}"`, start);
  return d;
}

/** RFC 5321 §4.1.3 address literals: IPv4, `IPv6:`, or a registered tag. */
function addressLiteral(p: Strict): string {
  const start = p.pos;
  const lit = p.domainLiteral();
  const body = lit.slice(1, -1);
  if (isIPv4(body)) return lit;
  const colon = body.indexOf(':');
  if (colon > 0) {
    const tag = body.slice(0, colon);
    if (tag.toLowerCase() === 'ipv6') {
      if (isIPv6(body.slice(colon + 1))) return lit;
    } else if (isLdhLabel(tag) && colon + 1 < body.length) {
      return lit;
    }
  }
  return p.fail('invalid address literal', start);
}

// ---------------------------------------------------------------------------------------------
// Writers

function formatPhrase(name: string): string {
  let plain = true;
  let atoms = name.length > 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c > 0x7e) {
      plain = false;
      break;
    }
    if (!(isAtext(c) || (c === 0x20 && i > 0 && name.charCodeAt(i - 1) !== 0x20))) atoms = false;
  }
  if (plain && name.includes('=?')) plain = false;
  if (!plain) return encodeHeaderValue(name, { structured: true });
  return atoms && !name.endsWith(' ') ? name : quoteString(name);
}

/**
 * `Name <a@b>`, or `a@b` when there is no name; the name quoted or RFC 2047-encoded as needed.
 * Throws AddressError when the address holds CR, LF, NUL or angle brackets (header injection).
 */
export function formatMailbox(m: Mailbox): string {
  // An address is written verbatim; a line break in it would start a new header field.
  const bad = m.address.search(/[\r\n\0<>]/);
  if (bad >= 0) throw new AddressError(`character not allowed in address at position ${bad}`, bad);
  if (!m.name) return m.address === '' ? '<>' : m.address;
  return formatPhrase(m.name) + ' <' + m.address + '>';
}

/** Comma-separated list; groups as `Name: a@b, c@d;`. */
export function formatAddressList(items: AddressItem[]): string {
  return items
    .map((it) =>
      'group' in it
        ? formatPhrase(it.group) + ': ' + it.members.map(formatMailbox).join(', ') + ';'
        : formatMailbox(it),
    )
    .join(', ');
}

/** `bücher.example` → `xn--bcher-kva.example` (lowercased). Throws AddressError when invalid. */
export function domainToAscii(domain: string): string {
  if (domain.startsWith('[')) return domain;
  const ascii = domainToASCII(domain);
  if (ascii === '') throw new AddressError(`invalid domain "${domain.slice(0, 80)}" at position 0`, 0);
  return ascii;
}

/** `xn--bcher-kva.example` → `bücher.example`. Throws AddressError when invalid. */
export function domainToUnicode(domain: string): string {
  if (domain.startsWith('[')) return domain;
  const u = nodeDomainToUnicode(domain);
  if (u === '') throw new AddressError(`invalid domain "${domain.slice(0, 80)}" at position 0`, 0);
  return u;
}

/** Address with its domain in A-labels (for SMTP without SMTPUTF8, DNS lookups). */
export function addressToAscii(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : address.slice(0, at + 1) + domainToAscii(address.slice(at + 1));
}

/** Aliases of domainToAscii / domainToUnicode. */
export { domainToAscii as toAscii, domainToUnicode as toUnicode };

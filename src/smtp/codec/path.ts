/**
 * Reverse-path and forward-path syntax of RFC 5321 §4.1.2 (with RFC 6531 SMTPUTF8 extensions):
 * `<[@route,@route:]local-part@domain>`, `<>` for the null reverse-path and `<Postmaster>` for
 * RCPT. A small parser of its own: the smtp layer does not import mime (ARCHITECTURE).
 *
 * Failure semantics: returns a SmtpError (never throws from the parser itself) whose reply is
 * 501 5.5.4 when the brackets are missing, 553 5.1.3/5.1.7 when the mailbox syntax is wrong or a
 * length limit of §4.5.3.1 is exceeded. Source routes are accepted and dropped (§4.1.1.3, C.).
 */
import { SmtpError } from '../server/backend.js';
import { MAX_DOMAIN_OCTETS, MAX_LOCAL_PART_OCTETS, MAX_PATH_OCTETS } from './limits.js';

export interface ParsedPath {
  /** The mailbox without brackets and route; '' for `<>`; 'Postmaster' for `<Postmaster>`. */
  address: string;
  /** True when the path contains non-ASCII characters (needs SMTPUTF8). */
  utf8: boolean;
}

// atext of RFC 5322 plus UTF-8 (RFC 6531 §3.3).
const ATOM = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]+$/u;
const LABEL =
  /^[A-Za-z0-9\u0080-\u{10ffff}](?:[A-Za-z0-9\u0080-\u{10ffff}-]*[A-Za-z0-9\u0080-\u{10ffff}])?$/u;
const QUOTED = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\u{10ffff}]|\\[\x20-\x7e])*"$/u;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const GENERAL_LITERAL = /^[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5a\x5e-\x7e]+$/;

/** RFC 5321 Domain: dot-separated LDH labels (U-labels allowed; SMTPUTF8 is checked by the caller). */
export function isDomain(s: string): boolean {
  if (s.length === 0 || Buffer.byteLength(s) > MAX_DOMAIN_OCTETS) return false;
  return s.split('.').every((l) => l.length <= 63 && LABEL.test(l));
}

/** RFC 5321 address-literal: `[IPv4]`, `[IPv6:...]` or a general `[tag:content]`. */
export function isAddressLiteral(s: string): boolean {
  if (!s.startsWith('[') || !s.endsWith(']')) return false;
  const inner = s.slice(1, -1);
  if (IPV4.test(inner)) return true;
  if (/^IPv6:/i.test(inner)) return /^[0-9A-Fa-f:.]+$/.test(inner.slice(5)) && inner.includes(':', 5);
  return GENERAL_LITERAL.test(inner);
}

/** Checks `local@domain` (no brackets); returns the problem, or undefined when valid. */
export function mailboxProblem(mailbox: string): string | undefined {
  const at = mailbox.lastIndexOf('@');
  if (at <= 0) return 'missing local part or domain';
  const local = mailbox.slice(0, at);
  const domain = mailbox.slice(at + 1);
  if (Buffer.byteLength(local) > MAX_LOCAL_PART_OCTETS) return 'local part too long';
  const dotString = local.split('.').every((a) => ATOM.test(a));
  if (!dotString && !QUOTED.test(local)) return 'invalid local part';
  if (!isDomain(domain) && !isAddressLiteral(domain)) return 'invalid domain';
  return undefined;
}

export interface ParsePathOptions {
  /** MAIL allows `<>`; RCPT allows `<Postmaster>`. */
  kind: 'MAIL' | 'RCPT';
}

/**
 * Parses a path at the start of `text` (after `FROM:`/`TO:` and optional spaces). Returns the
 * path and the unparsed rest (the ESMTP parameters), or a SmtpError.
 */
export function parsePath(
  text: string,
  opts: ParsePathOptions,
): { path: ParsedPath; rest: string } | SmtpError {
  const enhanced = opts.kind === 'MAIL' ? '5.1.7' : '5.1.3';
  if (!text.startsWith('<')) {
    return new SmtpError(
      501,
      '5.5.4',
      `Syntax: ${opts.kind === 'MAIL' ? 'MAIL FROM:<address>' : 'RCPT TO:<address>'}`,
    );
  }
  const close = findClosingBracket(text);
  if (close < 0) return new SmtpError(501, '5.5.4', 'Syntax: missing ">" after the address');
  const inner = text.slice(1, close);
  const rest = text.slice(close + 1);
  if (rest !== '' && !rest.startsWith(' '))
    return new SmtpError(501, '5.5.4', 'Syntax: space expected after ">"');
  if (Buffer.byteLength(inner) + 2 > MAX_PATH_OCTETS) return new SmtpError(553, enhanced, 'Path too long');
  const utf8 = /[^\x00-\x7f]/.test(inner);
  if (inner === '') {
    if (opts.kind === 'MAIL') return { path: { address: '', utf8: false }, rest };
    return new SmtpError(553, enhanced, 'Null forward-path not allowed');
  }
  if (opts.kind === 'RCPT' && /^postmaster$/i.test(inner))
    return { path: { address: inner, utf8: false }, rest };
  let mailbox = inner;
  if (inner.startsWith('@')) {
    // A-d-l ":" Mailbox: the route is obsolete; check its form and drop it (§4.1.1.3).
    const colon = inner.indexOf(':');
    const route = colon < 0 ? [] : inner.slice(0, colon).split(',');
    if (colon < 0 || !route.every((r) => r.startsWith('@') && isDomain(r.slice(1)))) {
      return new SmtpError(553, enhanced, 'Invalid source route');
    }
    mailbox = inner.slice(colon + 1);
  }
  const problem = mailboxProblem(mailbox);
  if (problem !== undefined) return new SmtpError(553, enhanced, `Invalid address: ${problem}`);
  return { path: { address: mailbox, utf8 }, rest };
}

/** Index of the ">" closing the path, skipping quoted strings; -1 when absent. */
function findClosingBracket(text: string): number {
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '>') return i;
    else if (c === '<') return -1;
  }
  return -1;
}

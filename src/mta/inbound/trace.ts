/**
 * Trace fields prepended on delivery (RFC 5321 §4.4): `Return-Path:` with the reverse path, and a
 * `Received:` line naming the client (HELO name and IP literal — no reverse lookup by default),
 * this host, the protocol (RFC 3848 / RFC 6531 `with` values) and an id. `for` is only written for
 * a single recipient, so one copy never tells another recipient's address.
 */
import type { ConnInfo } from '../../core/index.js';
import { formatDate } from '../../mime/mail/date.js';

/** RFC 3848 / 6531 "with" keyword for what the session did. */
export function withProtocol(conn: ConnInfo, smtputf8: boolean): string {
  let p = smtputf8 ? 'UTF8SMTP' : conn.esmtp ? 'ESMTP' : 'SMTP';
  if (conn.tls) p += 'S';
  if (conn.authUser) p += 'A';
  return p;
}

function ipLiteral(ip: string): string {
  const a = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return a.includes(':') ? `[IPv6:${a}]` : `[${a}]`;
}

/** Printable, CR/LF-free, bounded: a HELO argument is client-controlled. */
function clean(s: string, max = 255): string {
  return s.replace(/[^\x21-\x7e\u0080-\uffff]/g, '').slice(0, max) || 'unknown';
}

export function traceHeaders(opts: {
  conn: ConnInfo;
  hostname: string;
  mailFrom: string;
  recipients: string[];
  id: string;
  smtputf8: boolean;
  date?: Date;
}): Buffer {
  const { conn } = opts;
  const from = `${clean(conn.helo ?? 'unknown')} (${ipLiteral(conn.remoteAddress)})`;
  const forPart = opts.recipients.length === 1 ? `\r\n\tfor <${clean(opts.recipients[0]!, 320)}>` : '';
  const lines =
    `Return-Path: <${opts.mailFrom ? clean(opts.mailFrom, 320) : ''}>\r\n` +
    `Received: from ${from}\r\n\tby ${opts.hostname} (Posthorn) with ${withProtocol(conn, opts.smtputf8)} id ${opts.id}` +
    `${forPart};\r\n\t${formatDate(opts.date ?? new Date())}\r\n`;
  return Buffer.from(lines, 'utf8');
}

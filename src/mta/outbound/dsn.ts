/**
 * Delivery status notifications (RFC 3464, RFC 3461 §6): a multipart/report with a human-readable
 * part, a message/delivery-status part (per-message fields, then one block per recipient with
 * Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code), and the original message —
 * headers only (text/rfc822-headers) unless the sender asked RET=FULL (message/rfc822).
 *
 * The result is a stream of chunks: the original is read from the store as it is sent, never held
 * whole. Everything we write ourselves is 7-bit ASCII with CRLF; a remote server's reply text is
 * cleaned to printable ASCII for the Diagnostic-Code field (RFC 3464 §2.3.6 wants it as received,
 * but a header field cannot hold CR, LF or 8-bit octets).
 */
import { formatDate, generateBoundary, generateMessageId } from '../../mime/index.js';

export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

export interface DsnRecipient {
  address: string;
  /** ORCPT as `type;address`. */
  orcpt?: string;
  action: DsnAction;
  status: string;
  diagnostic?: string;
  diagnosticType?: 'smtp';
  remoteMta?: string;
  lastAttemptAt?: Date;
  /** For 'delayed': when we give up. */
  willRetryUntil?: Date;
}

export interface DsnInput {
  /** Our host name (Reporting-MTA, From, Message-ID). */
  reportingMta: string;
  /** The reverse path of the original message: who gets this report. */
  to: string;
  envid?: string;
  arrivalDate: Date;
  recipients: DsnRecipient[];
  ret: 'FULL' | 'HDRS';
  /** The original message's bytes (as stored). */
  original: () => AsyncIterable<Uint8Array>;
  /** The original body is 8-bit (RET=FULL then makes this report 8-bit). */
  original8bit?: boolean;
  now?: Date;
}

export interface DsnMessage {
  chunks: AsyncIterable<Uint8Array>;
  body8bit: boolean;
}

/** Header bytes of the original kept in a headers-only report (the rest is cut). */
export const MAX_RETURNED_HEADER_BYTES = 256 * 1024;
const MAX_DIAGNOSTIC_CHARS = 900;

/** Printable ASCII on one line, bounded: safe inside a header field. */
export function headerSafe(text: string, max = MAX_DIAGNOSTIC_CHARS): string {
  return text
    .replace(/[ \t]*[\r\n]+[ \t]*/g, ' ')
    .replace(/\t/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim()
    .slice(0, max);
}

function subjectFor(recipients: DsnRecipient[]): string {
  if (recipients.some((r) => r.action === 'failed')) return 'Undelivered Mail Returned to Sender';
  if (recipients.some((r) => r.action === 'delayed')) return 'Delayed Mail (still being retried)';
  if (recipients.some((r) => r.action === 'relayed')) return 'Delivery Status Notification (Relayed)';
  return 'Successful Mail Delivery Report';
}

function humanText(input: DsnInput): string {
  const lines = [`This is the mail system at host ${input.reportingMta}.`, ''];
  const failed = input.recipients.filter((r) => r.action === 'failed');
  const delayed = input.recipients.filter((r) => r.action === 'delayed');
  const ok = input.recipients.filter(
    (r) => r.action === 'delivered' || r.action === 'relayed' || r.action === 'expanded',
  );
  if (failed.length > 0) {
    lines.push(
      "I'm sorry to have to inform you that your message could not",
      'be delivered to one or more recipients. It is attached below.',
      '',
    );
    for (const r of failed)
      lines.push(`<${headerSafe(r.address, 320)}>: ${headerSafe(r.diagnostic ?? r.status)}`);
    lines.push('');
  }
  if (delayed.length > 0) {
    lines.push('Your message could not be delivered yet to these recipients; it will be retried:', '');
    for (const r of delayed)
      lines.push(`<${headerSafe(r.address, 320)}>: ${headerSafe(r.diagnostic ?? r.status)}`);
    lines.push('');
  }
  if (ok.length > 0) {
    lines.push('Your message was delivered to these recipients, as you asked to be told:', '');
    for (const r of ok) {
      const how =
        r.action === 'relayed' ? 'relayed to a server that does not send notifications' : 'delivered';
      lines.push(`<${headerSafe(r.address, 320)}>: ${how}`);
    }
    lines.push('');
  }
  return lines.join('\r\n');
}

function statusPart(input: DsnInput): string {
  const f = [`Reporting-MTA: dns; ${input.reportingMta}`];
  if (input.envid !== undefined) f.push(`Original-Envelope-Id: ${headerSafe(input.envid, 100)}`);
  f.push(`Arrival-Date: ${formatDate(input.arrivalDate)}`);
  let out = `${f.join('\r\n')}\r\n`;
  for (const r of input.recipients) {
    const g = [`Final-Recipient: rfc822; ${headerSafe(r.address, 320)}`];
    if (r.orcpt) g.push(`Original-Recipient: ${headerSafe(r.orcpt, 400)}`);
    g.push(`Action: ${r.action}`, `Status: ${r.status}`);
    if (r.remoteMta) g.push(`Remote-MTA: dns; ${headerSafe(r.remoteMta, 255)}`);
    if (r.diagnostic)
      g.push(
        `Diagnostic-Code: ${r.diagnosticType === 'smtp' ? 'smtp' : 'x-posthorn'}; ${headerSafe(r.diagnostic)}`,
      );
    if (r.lastAttemptAt) g.push(`Last-Attempt-Date: ${formatDate(r.lastAttemptAt)}`);
    if (r.willRetryUntil) g.push(`Will-Retry-Until: ${formatDate(r.willRetryUntil)}`);
    out += `\r\n${g.join('\r\n')}\r\n`;
  }
  return out;
}

/** Skips our own leading Return-Path (added at delivery; not part of the message sent). */
export async function* withoutReturnPath(src: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  let head: Buffer | undefined = Buffer.alloc(0);
  for await (const c of src) {
    if (head === undefined) {
      yield c;
      continue;
    }
    head = Buffer.concat([head, c]);
    const eol = head.indexOf('\r\n');
    if (eol < 0 && head.length < 1024) continue;
    const first = head.subarray(0, 12).toString('latin1').toLowerCase();
    const rest = first === 'return-path:' && eol >= 0 ? head.subarray(eol + 2) : head;
    head = undefined;
    if (rest.length > 0) yield rest;
  }
  if (head !== undefined && head.length > 0) yield head;
}

async function* headersOnly(src: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  let seen = Buffer.alloc(0);
  for await (const c of src) {
    seen = Buffer.concat([seen, c]);
    const end = seen.indexOf('\r\n\r\n');
    if (end >= 0) {
      yield seen.subarray(0, end + 2);
      return;
    }
    if (seen.length > MAX_RETURNED_HEADER_BYTES) {
      const cut = seen.lastIndexOf('\r\n', MAX_RETURNED_HEADER_BYTES);
      yield seen.subarray(0, cut + 2);
      return;
    }
  }
  if (seen.length > 0)
    yield seen.subarray(seen.length - 2).toString() === '\r\n'
      ? seen
      : Buffer.concat([seen, Buffer.from('\r\n')]);
}

/** Builds the report (see the module comment). */
export function buildDsn(input: DsnInput): DsnMessage {
  const now = input.now ?? new Date();
  const boundary = generateBoundary();
  const full = input.ret === 'FULL';
  const head =
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>\r\n` +
    `To: <${headerSafe(input.to, 320)}>\r\n` +
    `Subject: ${subjectFor(input.recipients)}\r\n` +
    `Date: ${formatDate(now)}\r\n` +
    `Message-ID: ${generateMessageId(input.reportingMta)}\r\n` +
    'Auto-Submitted: auto-replied\r\n' +
    'MIME-Version: 1.0\r\n' +
    `Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="${boundary}"\r\n` +
    '\r\n' +
    'This is a MIME-encapsulated message.\r\n\r\n' +
    `--${boundary}\r\n` +
    'Content-Description: Notification\r\n' +
    'Content-Type: text/plain; charset=us-ascii\r\n\r\n' +
    `${humanText(input)}\r\n` +
    `--${boundary}\r\n` +
    'Content-Description: Delivery report\r\n' +
    'Content-Type: message/delivery-status\r\n\r\n' +
    `${statusPart(input)}\r\n` +
    `--${boundary}\r\n` +
    `Content-Description: ${full ? 'Undelivered Message' : 'Undelivered Message Headers'}\r\n` +
    `Content-Type: ${full ? 'message/rfc822' : 'text/rfc822-headers'}\r\n` +
    (full && input.original8bit ? 'Content-Transfer-Encoding: 8bit\r\n' : '') +
    '\r\n';
  const tail = `\r\n--${boundary}--\r\n`;
  async function* chunks(): AsyncIterable<Uint8Array> {
    yield Buffer.from(head, 'latin1');
    const orig = withoutReturnPath(input.original());
    for await (const c of full ? orig : headersOnly(orig)) yield c;
    // The CRLF before the delimiter belongs to the delimiter (RFC 2046 §5.1.1): the original keeps its own.
    yield Buffer.from(tail);
  }
  return { chunks: chunks(), body8bit: full && !!input.original8bit };
}

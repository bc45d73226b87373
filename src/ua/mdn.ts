/**
 * Read receipts: Message Disposition Notifications (RFC 8098). A message asks for one with
 * Disposition-Notification-To; the receiving user decides whether one is sent (§2.1: never
 * automatically without the user's consent, and at most once per message).
 *
 * Deviation: RFC 8098 §3 wants a top-level multipart/report; the shared composer builds
 * multipart/mixed only, so the receipt is multipart/mixed with the same two parts (a human
 * readable text and the message/disposition-notification fields). Most readers show it alike.
 */
import { hostname } from 'node:os';
import type { ComposeOptions, ParsedMessage } from '../mime/index.js';
import { parseAddressList } from '../mime/index.js';
import type { Account } from './accounts.js';

/** The addresses a receipt should go to, or none when not asked for. */
export function receiptRequestedBy(msg: ParsedMessage): string[] {
  const v = msg.headers.get('disposition-notification-to');
  if (!v) return [];
  const out: string[] = [];
  for (const item of parseAddressList(v).value) {
    if ('address' in item) out.push(item.address);
    else for (const m of item.members) out.push(m.address);
  }
  return out;
}

export function mdnOptions(orig: ParsedMessage, account: Account, to: string[]): ComposeOptions {
  const fields = [
    `Reporting-UA: ${hostname()}; Posthorn`,
    `Final-Recipient: rfc822;${account.address}`,
    orig.messageId ? `Original-Message-ID: <${orig.messageId}>` : undefined,
    'Disposition: manual-action/MDN-sent-manually; displayed',
  ].filter((l) => l !== undefined);
  return {
    from: account.address,
    to,
    subject: `Read: ${orig.subject ?? ''}`,
    inReplyTo: orig.messageId,
    references: orig.messageId ? [orig.messageId] : undefined,
    text:
      `The message sent to ${account.address} with the subject "${orig.subject ?? ''}" was displayed.\n` +
      'This is no guarantee that the message has been read or understood.\n',
    attachments: [
      {
        content: `${fields.join('\r\n')}\r\n`,
        contentType: 'message/disposition-notification',
        filename: 'MDNPart2.txt',
      },
    ],
  };
}

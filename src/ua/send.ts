/**
 * Submitting a message (RFC 6409) through the account's SMTP server, with the copy kept in the
 * local Sent folder.
 *
 * The message is composed once, streamed into Sent/tmp/ (so the copy is byte for byte what was
 * sent and the message is never held in memory), then streamed from that file to the server.
 * Only when the server took it (250 after the body) is the copy moved into Sent; otherwise it is
 * removed. Delivery status notifications (RFC 3461) go as NOTIFY= per recipient with RET=HDRS and
 * an ENVID when the server offers DSN.
 *
 * Failure semantics: SendError lists every refused recipient with the server's reply; a refused
 * MAIL, a refused body or a connection failure throws SendError with that reply.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  type NotifyValue,
  replyText,
  SmtpClient,
  SmtpClientError,
  type SmtpTlsMode,
} from '../smtp/client/index.js';
import type { Account } from './accounts.js';
import type { Maildir } from './maildir.js';

export const SENT = 'Sent';
const CRLF = Buffer.from('\r\n');

export interface RefusedRecipient {
  address: string;
  reply: string;
}

export class SendError extends Error {
  override name = 'SendError';
  constructor(
    message: string,
    readonly refused: RefusedRecipient[] = [],
    readonly delivered: string[] = [],
  ) {
    super(message);
  }
}

export interface SubmitOptions {
  /** Envelope recipients (To, Cc and Bcc together). */
  recipients: string[];
  notify?: NotifyValue[];
  /** ENVID (RFC 3461 §4.4), e.g. the Message-ID. */
  envid?: string;
  /** The local mailbox whose Sent folder stages the message and keeps the copy. */
  sent: Maildir;
  /** The EHLO name. */
  localName?: string;
}

export interface SubmitResult {
  delivered: string[];
  refused: RefusedRecipient[];
  /** The server's reply to the message body. */
  reply: string;
  octets: number;
  /** Path of the Sent copy. */
  copy: string;
}

export function smtpTls(account: Account): SmtpTlsMode {
  // A mail program sends a password: STARTTLS is required, never opportunistic.
  return account.tls === 'starttls' ? 'starttls-required' : account.tls;
}

export async function connectSmtp(
  account: Account,
  password: string,
  localName?: string,
): Promise<SmtpClient> {
  const client = await SmtpClient.connect({
    host: account.smtp.host,
    port: account.smtp.port,
    tls: smtpTls(account),
    rejectUnauthorized: account.tlsVerify,
    localName: localName ?? 'localhost',
  });
  if (account.smtpAuth === false) return client;
  try {
    await client.auth({ username: account.user, password, allowInsecure: account.tls === 'none' });
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
}

function isEightBit(chunk: Uint8Array): boolean {
  for (const b of chunk) if (b > 0x7f) return true;
  return false;
}

/** Sends the composed message; see the module comment. */
export async function submit(
  account: Account,
  password: string,
  message: Readable,
  opts: SubmitOptions,
): Promise<SubmitResult> {
  if (opts.recipients.length === 0) throw new SendError('no recipients');
  await opts.sent.ensure(SENT);
  await opts.sent.cleanTmp(SENT);
  const pending = await opts.sent.begin({ folder: SENT, flags: ['\\Seen'] });
  let eightBit = false;
  let tail = Buffer.alloc(0);
  try {
    for await (const chunk of message) {
      const b = chunk as Buffer;
      eightBit ||= isEightBit(b);
      await pending.write(b);
      if (b.length) tail = Buffer.concat([tail, b.subarray(-2)]).subarray(-2);
    }
    // The last line must end in CRLF (RFC 5321 §4.1.1.4); the client would add it on the wire,
    // so add it here and the Sent copy stays byte for byte what was sent.
    if (!tail.equals(CRLF)) await pending.write(CRLF);
  } catch (err) {
    await pending.abort();
    throw err;
  }
  let client: SmtpClient | undefined;
  try {
    client = await connectSmtp(account, password, opts.localName);
    const result = await client.send(
      {
        from: account.address,
        recipients: opts.recipients.map((address) => ({ address, notify: opts.notify })),
        size: pending.size,
        body8bit: eightBit,
        ret: opts.notify ? 'HDRS' : undefined,
        envid: opts.notify ? opts.envid : undefined,
      },
      createReadStream(pending.path),
    );
    const refused = result.recipients
      .filter((r) => !r.accepted)
      .map((r) => ({ address: r.address, reply: replyText(r.reply) }));
    if (!result.ok) {
      const why = result.data ? replyText(result.data) : 'no recipient was accepted';
      const each = refused.map((r) => `; ${r.address}: refused: ${r.reply}`).join('');
      throw new SendError(`the server did not take the message: ${why}${each}`, refused);
    }
    await client.quit().catch(() => {});
    const copy = await pending.commit();
    return {
      delivered: result.delivered,
      refused,
      reply: replyText(result.data!),
      octets: pending.size,
      copy,
    };
  } catch (err) {
    client?.close();
    await pending.abort();
    if (err instanceof SmtpClientError) {
      const reply = err.reply ? `: ${replyText(err.reply)}` : '';
      throw new SendError(
        `${account.smtp.host}:${account.smtp.port} ${err.stage}: ${err.message}${reply && !err.message.includes(reply.slice(2)) ? reply : ''}`,
      );
    }
    throw err;
  }
}

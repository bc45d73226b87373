/**
 * From compose options to a submitted message: the Message-ID (also the DSN ENVID), the read
 * receipt request (Disposition-Notification-To, RFC 8098 §2.1), the envelope recipients (To, Cc
 * and Bcc; Bcc never becomes a header) and the NOTIFY values (RFC 3461 §4.1).
 */
import type { Readable } from 'node:stream';
import { type ComposeOptions, composeMessage, generateMessageId, parseAddressList } from '../mime/index.js';
import type { NotifyValue } from '../smtp/client/index.js';
import { type Account, UaError } from './accounts.js';
import type { Maildir } from './maildir.js';
import { type SubmitResult, submit } from './send.js';

export interface OutgoingOptions {
  /** Blind copies: envelope only. */
  bcc?: string[];
  /** Ask for a read receipt. */
  receipt?: boolean;
}

/** NOTIFY values from user input ("success,failure"); NEVER stands alone (RFC 3461 §4.1). */
export function parseNotify(values: string[] | undefined): NotifyValue[] | undefined {
  if (!values?.length) return undefined;
  const v = values.map((x) => x.trim().toUpperCase());
  for (const x of v) {
    if (!['SUCCESS', 'FAILURE', 'DELAY', 'NEVER'].includes(x)) throw new UaError(`--notify: unknown '${x}'`);
  }
  if (v.includes('NEVER') && v.length > 1)
    throw new UaError('--notify: never cannot be combined (RFC 3461 §4.1)');
  return v as NotifyValue[];
}

/** The envelope recipients of To, Cc and Bcc, each once. */
export function envelopeRecipients(opts: ComposeOptions, bcc: string[] = []): string[] {
  const out: string[] = [];
  const add = (v: ComposeOptions['to']) => {
    for (const item of v === undefined ? [] : Array.isArray(v) ? v : [v]) {
      const items = typeof item === 'string' ? parseAddressList(item).value : [item];
      for (const it of items) {
        if ('address' in it) out.push(it.address);
        else for (const m of it.members) out.push(m.address);
      }
    }
  };
  add(opts.to);
  add(opts.cc);
  add(bcc);
  const seen = new Set<string>();
  return out.filter((a) => !seen.has(a.toLowerCase()) && seen.add(a.toLowerCase()));
}

/** The message as it will go out, with its Message-ID, and its envelope recipients. */
export function prepare(
  account: Account,
  opts: ComposeOptions,
  out: OutgoingOptions = {},
): { message: () => Readable; messageId: string; recipients: string[] } {
  const domain = account.address.slice(account.address.lastIndexOf('@') + 1);
  const messageId = opts.messageId ?? generateMessageId(domain);
  const headers = { ...opts.headers };
  if (out.receipt) headers['Disposition-Notification-To'] = account.address;
  const bcc = out.bcc ?? [];
  const full: ComposeOptions = { ...opts, messageId, headers, bcc: bcc.length ? bcc : undefined };
  // Compose now so bad input fails before anything is sent; the stream is only made on demand.
  composeMessage(full).destroy();
  return { message: () => composeMessage(full), messageId, recipients: envelopeRecipients(opts, bcc) };
}

/** Composes and submits; the copy goes to `sent`'s Sent folder. */
export async function sendComposed(
  account: Account,
  password: string,
  opts: ComposeOptions,
  out: OutgoingOptions & { notify?: NotifyValue[]; sent: Maildir },
): Promise<SubmitResult> {
  const p = prepare(account, opts, out);
  return submit(account, password, p.message(), {
    recipients: p.recipients,
    notify: out.notify,
    envid: p.messageId.replace(/[<>]/g, ''),
    sent: out.sent,
  });
}

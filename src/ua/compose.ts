/**
 * Replies and forwards from the CLI's account: the building (subjects, quoting, threading,
 * reply-all recipients, inline or message/rfc822 forwards) is the MIME engine's buildReply and
 * buildForward, shared with the webmail; this adds only the account's From.
 */
import type { Readable } from 'node:stream';
import {
  buildForward,
  buildReply,
  type ComposeOptions,
  type Mailbox,
  type ParsedMessage,
} from '../mime/index.js';
import type { Account } from './accounts.js';

function from(account: Account): Mailbox {
  return account.fullName
    ? { name: account.fullName, address: account.address }
    : { address: account.address };
}

export function replyOptions(
  orig: ParsedMessage,
  account: Account,
  opts: { all?: boolean; text: string },
): ComposeOptions {
  return buildReply(orig, from(account), opts);
}

export function forwardOptions(
  orig: ParsedMessage,
  account: Account,
  opts: { to: string[]; cc?: string[]; text: string; asAttachment?: boolean; raw?: () => Readable },
): ComposeOptions {
  return buildForward(orig, from(account), opts);
}

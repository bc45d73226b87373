/**
 * Building replies and forwards from a parsed original (RFC 5322 §3.6.4 threading: In-Reply-To is
 * the parent's Message-ID, References the parent's References, or else its In-Reply-To, followed
 * by its Message-ID), with the quoted text, "Re:" / "Fwd:" subjects, and on forward the original
 * attachments (inline) or the whole original as message/rfc822 (--as-attachment).
 */
import type { Readable } from 'node:stream';
import type { ComposeAttachment, ComposeOptions, Mailbox, ParsedMessage } from '../mime/index.js';
import type { Account } from './accounts.js';
import { bodyText, mailboxText } from './summary.js';

/** "Re: x" once, whatever the original's prefixes ("RE:", "Re[2]:", "회신:" are kept as they are). */
export function replySubject(subject: string | undefined): string {
  const s = (subject ?? '').trim();
  return /^re(\[\d+\])?:/i.test(s) ? s : `Re: ${s}`;
}

export function forwardSubject(subject: string | undefined): string {
  const s = (subject ?? '').trim();
  return /^(fwd?|fw):/i.test(s) ? s : `Fwd: ${s}`;
}

/** Prefixes every line with "> " (">" for lines already quoted, as most mail programs do). */
export function quote(text: string): string {
  const body = text.replace(/\n+$/, '');
  return body
    .split('\n')
    .map((l) => (l.startsWith('>') ? `>${l}` : l ? `> ${l}` : '>'))
    .join('\n');
}

function from(account: Account): Mailbox {
  return account.fullName
    ? { name: account.fullName, address: account.address }
    : { address: account.address };
}

function same(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function attribution(orig: ParsedMessage): string {
  const who = mailboxText(orig.from) || 'someone';
  return orig.date ? `On ${orig.date.toUTCString()}, ${who} wrote:` : `${who} wrote:`;
}

export function threadReferences(orig: ParsedMessage): string[] {
  const refs = orig.references.length ? [...orig.references] : orig.inReplyTo ? [orig.inReplyTo] : [];
  if (orig.messageId && !refs.includes(orig.messageId)) refs.push(orig.messageId);
  return refs;
}

export function replyOptions(
  orig: ParsedMessage,
  account: Account,
  opts: { all?: boolean; text: string },
): ComposeOptions {
  const author = orig.replyTo.length ? orig.replyTo : orig.from;
  const to = author.filter((m) => !same(m.address, account.address));
  let cc: Mailbox[] = [];
  if (opts.all) {
    const seen = new Set([account.address.toLowerCase(), ...to.map((m) => m.address.toLowerCase())]);
    cc = [...orig.to, ...orig.cc].filter((m) => {
      const k = m.address.toLowerCase();
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }
  return {
    from: from(account),
    to: to.length ? to : author,
    cc: cc.length ? cc : undefined,
    subject: replySubject(orig.subject),
    inReplyTo: orig.messageId,
    references: threadReferences(orig),
    text: `${opts.text.replace(/\n*$/, '\n')}\n${attribution(orig)}\n${quote(bodyText(orig))}\n`,
  };
}

export function forwardOptions(
  orig: ParsedMessage,
  account: Account,
  opts: { to: string[]; cc?: string[]; text: string; asAttachment?: boolean; raw?: () => Readable },
): ComposeOptions {
  const base: ComposeOptions = {
    from: from(account),
    to: opts.to,
    cc: opts.cc?.length ? opts.cc : undefined,
    subject: forwardSubject(orig.subject),
    // Not a reply, but keeping the thread lets the recipient's program group it.
    references: threadReferences(orig),
  };
  if (opts.asAttachment) {
    if (!opts.raw) throw new Error('forward as attachment needs the original bytes');
    const name = (orig.subject ?? 'message').replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_').slice(0, 60);
    return {
      ...base,
      text: opts.text,
      attachments: [{ content: opts.raw(), filename: `${name}.eml`, contentType: 'message/rfc822' }],
    };
  }
  const head = [
    '---------- Forwarded message ---------',
    `From: ${mailboxText(orig.from)}`,
    orig.date ? `Date: ${orig.date.toUTCString()}` : undefined,
    `Subject: ${orig.subject ?? ''}`,
    `To: ${mailboxText(orig.to)}`,
    orig.cc.length ? `Cc: ${mailboxText(orig.cc)}` : undefined,
  ].filter((l) => l !== undefined);
  const attachments: ComposeAttachment[] = orig.attachments
    .filter((a) => a.content !== undefined)
    .map((a) => ({
      content: a.content!,
      filename: a.filename,
      contentType: a.contentType,
      inline: a.inline && a.contentId !== undefined && orig.html !== undefined ? true : undefined,
      cid: a.contentId,
    }));
  return {
    ...base,
    text: `${opts.text.replace(/\n*$/, '\n')}\n${head.join('\n')}\n\n${bodyText(orig)}`,
    attachments,
  };
}

/**
 * Replies and forwards built from a parsed original, shared by every mail program (the CLI user
 * agent and the webmail): "Re:" / "Fwd:" subjects, the quoted or forwarded text, reply-all
 * recipients, and threading (RFC 5322 §3.6.4: In-Reply-To is the parent's Message-ID, References
 * the parent's References, or else its In-Reply-To, followed by its Message-ID). The result is
 * ComposeOptions for the composer; sending it is the caller's business.
 */
import type { Readable } from 'node:stream';
import type { Mailbox } from './address.js';
import { bodyText, mailboxListText } from './body-text.js';
import type { AddressInput, ComposeAttachment, ComposeOptions } from './composer.js';
import type { ParsedMessage } from './reader.js';

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
export function quoteText(text: string): string {
  const body = text.replace(/\n+$/, '');
  return body
    .split('\n')
    .map((l) => (l.startsWith('>') ? `>${l}` : l ? `> ${l}` : '>'))
    .join('\n');
}

export function threadReferences(orig: ParsedMessage): string[] {
  const refs = orig.references.length ? [...orig.references] : orig.inReplyTo ? [orig.inReplyTo] : [];
  if (orig.messageId && !refs.includes(orig.messageId)) refs.push(orig.messageId);
  return refs;
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Who a reply goes to: the Reply-To (else From) minus the replier; with `all`, also the original
 * To and Cc in Cc, each address once and never the replier. A message from oneself replies to
 * its author list as it is rather than to nobody.
 */
export function replyRecipients(
  orig: ParsedMessage,
  self: string,
  all = false,
): { to: Mailbox[]; cc: Mailbox[] } {
  const author = orig.replyTo.length ? orig.replyTo : orig.from;
  const to = author.filter((m) => !same(m.address, self));
  const cc: Mailbox[] = [];
  if (all) {
    const seen = new Set([self.toLowerCase(), ...to.map((m) => m.address.toLowerCase())]);
    for (const m of [...orig.to, ...orig.cc]) {
      const k = m.address.toLowerCase();
      if (seen.has(k)) continue;
      seen.add(k);
      cc.push(m);
    }
  }
  return { to: to.length ? to : author, cc };
}

function attribution(orig: ParsedMessage): string {
  const who = mailboxListText(orig.from) || 'someone';
  return orig.date ? `On ${orig.date.toUTCString()}, ${who} wrote:` : `${who} wrote:`;
}

/** The new text first, then the attribution line and the quoted original. */
export function buildReply(
  orig: ParsedMessage,
  from: Mailbox,
  opts: { all?: boolean; text: string },
): ComposeOptions {
  const { to, cc } = replyRecipients(orig, from.address, opts.all);
  return {
    from,
    to,
    cc: cc.length ? cc : undefined,
    subject: replySubject(orig.subject),
    inReplyTo: orig.messageId,
    references: threadReferences(orig),
    text: `${opts.text.replace(/\n*$/, '\n')}\n${attribution(orig)}\n${quoteText(bodyText(orig))}\n`,
  };
}

export interface ForwardInput {
  to: AddressInput;
  cc?: AddressInput;
  text: string;
  /** Attach the whole original as message/rfc822 instead of inlining its text and attachments. */
  asAttachment?: boolean;
  /** The original's bytes, needed with `asAttachment`. */
  raw?: () => Readable;
}

/** Inline forward: the original's main fields and text under a separator, its attachments kept. */
export function buildForward(orig: ParsedMessage, from: Mailbox, opts: ForwardInput): ComposeOptions {
  const cc = Array.isArray(opts.cc) && opts.cc.length === 0 ? undefined : opts.cc;
  const base: ComposeOptions = {
    from,
    to: opts.to,
    cc,
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
    `From: ${mailboxListText(orig.from)}`,
    orig.date ? `Date: ${orig.date.toUTCString()}` : undefined,
    `Subject: ${orig.subject ?? ''}`,
    `To: ${mailboxListText(orig.to)}`,
    orig.cc.length ? `Cc: ${mailboxListText(orig.cc)}` : undefined,
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

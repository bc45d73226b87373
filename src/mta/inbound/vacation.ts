/**
 * Vacation auto-replies (RFC 3834): after a delivery has committed, each local recipient whose
 * vacation reply is on answers the envelope sender once per sender per `intervalDays`.
 *
 * When no reply goes out (RFC 3834 §2, §3.1.1): the null reverse path (a bounce); a sender that is
 * a mail system or a list (MAILER-DAEMON, LISTSERV, majordomo, owner-*, *-request, *-owner,
 * *-bounces); a message with `Auto-Submitted` other than `no`, with `Precedence: bulk|list|junk`
 * or with any `List-*` field; a message whose To and Cc do not name the recipient (it came by Bcc
 * or through a list); a message from the recipient itself; a sender answered within the period.
 * The period is a store record claimed atomically, so it holds across restarts and nodes.
 *
 * The reply (RFC 3834 §3): From the user, To the envelope sender, `Auto-Submitted: auto-replied`,
 * In-Reply-To and References threading it to the original, Subject "Re: <original>" or the
 * user's own; sent with the null reverse path (§3.2), through postNotice: into local mailboxes,
 * or the outbound queue for remote senders.
 *
 * Failure semantics: this runs after the 250 went out, so nothing here can delay or fail a
 * delivery; every error is logged and the reply is dropped (a claimed period without a reply is
 * the safe side: a sender is never answered twice).
 */
import type { Logger } from '../../core/index.js';
import {
  composeMessageToBuffer,
  decodeEncodedWords,
  type HeaderField,
  parseAddressList,
  parseHeaderBlock,
  parseMessageId,
  parseMessageIds,
} from '../../mime/index.js';
import type { Store, User, VacationRecord } from '../../store/types.js';
import { has8bit } from '../outbound/downgrade.js';
import { type PostOptions, postNotice } from '../outbound/post.js';
import { splitAddress } from './recipients.js';

/** Header bytes read back from the store to decide (a bigger header is judged on its start). */
export const MAX_VACATION_HEADER_BYTES = 256 * 1024;
/** Message ids carried in the reply's References (the newest ones; RFC 5322 sets no limit). */
export const MAX_REPLY_REFERENCES = 20;

const DAY_MS = 24 * 3600_000;

/** RFC 3834 §2: senders that are mail systems or lists, by local part. */
export function isSystemSender(sender: string): boolean {
  const local = splitAddress(sender).local.toLowerCase();
  return (
    local === 'mailer-daemon' ||
    local === 'listserv' ||
    local === 'majordomo' ||
    local.startsWith('owner-') ||
    local.endsWith('-request') ||
    local.endsWith('-owner') ||
    local.endsWith('-bounces')
  );
}

/** Why the message itself must not be answered (RFC 3834 §2), or undefined. */
export function autoReplyBlock(fields: HeaderField[]): string | undefined {
  for (const f of fields) {
    const name = f.name.toLowerCase();
    if (name === 'auto-submitted') {
      // `no` may carry comments or parameters: "no (manual)", "no; x=y".
      const v = f.value
        .replace(/\([^)]*\)/g, '')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      if (v !== 'no') return 'auto-submitted';
    } else if (name === 'precedence') {
      if (/^(bulk|list|junk)$/i.test(f.value.trim())) return 'precedence';
    } else if (name.startsWith('list-')) return 'list';
  }
  return undefined;
}

/** Whether To or Cc names one of `addresses` (case-insensitive). */
export function addressedTo(fields: HeaderField[], addresses: string[]): boolean {
  const mine = new Set(addresses.map((a) => a.toLowerCase()));
  for (const f of fields) {
    const name = f.name.toLowerCase();
    if (name !== 'to' && name !== 'cc') continue;
    for (const item of parseAddressList(f.value).value) {
      for (const m of 'members' in item ? item.members : [item]) {
        if (mine.has(m.address.toLowerCase())) return true;
      }
    }
  }
  return false;
}

const field = (fields: HeaderField[], name: string) =>
  fields.find((f) => f.name.toLowerCase() === name)?.value;

/** The reply message (RFC 3834 §3.1). */
export async function autoReplyMessage(opts: {
  from: string;
  to: string;
  settings: Pick<VacationRecord, 'subject' | 'text'>;
  original: HeaderField[];
}): Promise<Buffer> {
  const { original } = opts;
  const subject = decodeEncodedWords(field(original, 'subject') ?? '')
    .replace(/[\r\n]+/g, ' ')
    .trim();
  const messageId = parseMessageId(field(original, 'message-id') ?? '');
  const refs = parseMessageIds(field(original, 'references') ?? field(original, 'in-reply-to') ?? '');
  if (messageId && !refs.includes(messageId)) refs.push(messageId);
  return composeMessageToBuffer({
    from: opts.from,
    to: opts.to,
    subject: opts.settings.subject || (/^re:/i.test(subject) ? subject : `Re: ${subject}`),
    ...(messageId ? { inReplyTo: messageId } : {}),
    ...(refs.length ? { references: refs.slice(-MAX_REPLY_REFERENCES) } : {}),
    headers: { 'Auto-Submitted': 'auto-replied' },
    text: opts.settings.text,
    domain: splitAddress(opts.from).domain,
  });
}

/** The stored message's header block (up to MAX_VACATION_HEADER_BYTES). */
async function readHeader(store: Store, messageId: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const c of store.messages.read(messageId)) {
    const b = Buffer.from(c);
    parts.push(b);
    size += b.length;
    const all = parts.length === 1 ? b : Buffer.concat(parts);
    const end = all.indexOf('\r\n\r\n');
    if (end >= 0) return all.subarray(0, end + 2);
    if (size >= MAX_VACATION_HEADER_BYTES) return all.subarray(0, MAX_VACATION_HEADER_BYTES);
  }
  return Buffer.concat(parts);
}

/** One local recipient of a committed delivery. */
export interface DeliveredTo {
  user: User;
  /** Its mailbox entry of the delivery. */
  messageId: string;
  /** The RCPT TO addresses that reached it (the user is also known by these). */
  rcptTo: string[];
}

export class VacationResponder {
  constructor(private readonly opts: PostOptions) {}

  /** Sends the replies due for a committed delivery. Never rejects. */
  async afterDelivery(
    sender: string,
    delivered: DeliveredTo[],
    logger: Logger = this.opts.logger,
  ): Promise<void> {
    if (sender === '' || delivered.length === 0 || isSystemSender(sender)) return;
    const { store } = this.opts;
    try {
      const active = await store.vacation.active(delivered.map((d) => d.user.id));
      if (active.size === 0) return;
      const first = delivered.find((d) => active.has(d.user.id))!;
      const { fields } = parseHeaderBlock(await readHeader(store, first.messageId), {
        maxHeaderBytes: MAX_VACATION_HEADER_BYTES,
      });
      const blocked = autoReplyBlock(fields);
      if (blocked) {
        logger.info({ sender, reason: blocked }, 'vacation: no auto-reply');
        return;
      }
      for (const d of delivered) {
        const settings = active.get(d.user.id);
        if (settings) await this.answer(sender, d, settings, fields, logger);
      }
    } catch (err) {
      logger.error({ err, sender }, 'vacation: auto-reply failed');
    }
  }

  private async answer(
    sender: string,
    d: DeliveredTo,
    settings: VacationRecord,
    fields: HeaderField[],
    logger: Logger,
  ): Promise<void> {
    const { user } = d;
    try {
      if (sender.toLowerCase() === user.address.toLowerCase()) return;
      if (!addressedTo(fields, [user.address, ...d.rcptTo])) {
        logger.info({ sender, user: user.address, reason: 'not-addressed' }, 'vacation: no auto-reply');
        return;
      }
      const ok = await this.opts.store.vacation.claimReply(
        user.id,
        sender,
        new Date(),
        settings.intervalDays * DAY_MS,
      );
      if (!ok) {
        logger.info({ sender, user: user.address, reason: 'replied-recently' }, 'vacation: no auto-reply');
        return;
      }
      const reply = await autoReplyMessage({ from: user.address, to: sender, settings, original: fields });
      await postNotice(
        { ...this.opts, logger },
        sender,
        (async function* () {
          yield reply;
        })(),
        has8bit(reply),
      );
      logger.info({ sender, user: user.address }, 'vacation: auto-reply sent');
    } catch (err) {
      logger.error({ err, sender, user: user.address }, 'vacation: auto-reply failed');
    }
  }
}

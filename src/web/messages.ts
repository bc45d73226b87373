/**
 * Reading a user's mail for the web API: ownership checks (a message id of another user is
 * simply "not found"), list summaries derived from each message's header and structure (cached
 * per message id, bounded), and full parses for the reading view and attachment downloads.
 *
 * Failure semantics: a message that cannot be parsed still lists (with what the parser salvaged;
 * the parser records defects rather than throwing); store errors propagate to the route, which
 * answers 500 and logs.
 */
import { type Mailbox as Addr, type ParsedMessage, parseMessage } from '../mime/index.js';
import type { Mailbox, MessageMeta, Store } from '../store/types.js';

/** Summaries kept in memory (about 300 bytes each). */
export const SUMMARY_CACHE_ENTRIES = 50_000;

export interface MessageSummary {
  id: string;
  uid: number;
  from: string;
  to: string;
  subject: string;
  /** ISO date from the Date field, else the arrival time. */
  date: string;
  size: number;
  flags: string[];
  hasAttachments: boolean;
}

export function addressText(list: Addr[]): string {
  return list.map((m) => (m.name ? `${m.name} <${m.address}>` : m.address)).join(', ');
}

type Cached = Omit<MessageSummary, 'flags' | 'size' | 'uid'>;

export class MailReader {
  private readonly cache = new Map<string, Cached>();

  constructor(private readonly store: Store) {}

  /** The message with this id when it lies in one of the user's mailboxes. */
  async owned(userId: number, id: string): Promise<{ meta: MessageMeta; mailbox: Mailbox } | undefined> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 200) return undefined;
    const meta = await this.store.messages.get(id);
    if (!meta) return undefined;
    const mailbox = (await this.store.mailboxes.list(userId)).find((m) => m.id === meta.mailboxId);
    return mailbox ? { meta, mailbox } : undefined;
  }

  async parse(id: string): Promise<ParsedMessage> {
    return parseMessage(this.store.messages.read(id));
  }

  async summary(meta: MessageMeta): Promise<MessageSummary> {
    let c = this.cache.get(meta.id);
    if (!c) {
      // collect 'text': attachment bodies are hashed and dropped, never held.
      const p = await parseMessage(this.store.messages.read(meta.id), { collect: 'text', hash: false });
      c = {
        id: meta.id,
        from: addressText(p.from),
        to: addressText(p.to),
        subject: p.subject ?? '',
        date: (p.date ?? meta.receivedAt).toISOString(),
        hasAttachments: p.attachments.some((a) => !a.inline),
      };
      this.cache.set(meta.id, c);
      while (this.cache.size > SUMMARY_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    }
    return { ...c, uid: meta.uid, size: meta.size, flags: meta.flags };
  }
}

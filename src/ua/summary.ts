/**
 * Reading a folder for display: one summary per message (decoded From, Subject, Date, size,
 * flags, whether it has attachments), the inbox table, and search over from/to/subject/body.
 * Messages are parsed keeping only text bodies (attachments are counted, not held).
 */
import { bodyText, type Mailbox, mailboxListText, parseMessage } from '../mime/index.js';
import type { MailEntry, MailSource } from './source.js';
import { type Column, humanSize, renderTable } from './table.js';

export interface MessageSummary {
  /** 1-based number in the folder. */
  n: number;
  entry: MailEntry;
  from: string;
  to: string;
  subject: string;
  date: Date | undefined;
  attachments: number;
  /** Plain text of the body (HTML converted), for search. */
  text: string;
}

/** Display forms shared with the webmail (the MIME engine's). */
export { bodyText, mailboxListText as mailboxText };

function shortFrom(m: Mailbox[]): string {
  const f = m[0];
  return f ? f.name || f.address : '';
}

export async function summarize(source: MailSource, folder: string): Promise<MessageSummary[]> {
  const entries = await source.list(folder);
  const out: MessageSummary[] = [];
  for (const [i, entry] of entries.entries()) {
    const msg = await parseMessage(source.read(folder, entry.id), { collect: 'text' });
    out.push({
      n: i + 1,
      entry,
      from: shortFrom(msg.from),
      to: mailboxListText([...msg.to, ...msg.cc]),
      subject: msg.subject ?? '',
      date: msg.date,
      attachments: msg.attachments.filter((a) => !a.inline).length,
      text: bodyText(msg),
    });
  }
  return out;
}

/** 2026-11-26 14:03 in local time; the year is dropped for this year's mail. */
export function shortDate(d: Date | undefined, now = new Date()): string {
  if (!d) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  const day = `${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  return d.getFullYear() === now.getFullYear() ? day : `${d.getFullYear()}-${day}`;
}

/** N = new (unseen), R = answered, F = flagged, P = forwarded. */
export function flagText(e: MailEntry): string {
  const f = new Set(e.flags);
  return `${f.has('\\Seen') ? ' ' : 'N'}${f.has('\\Answered') ? 'R' : f.has('$Forwarded') ? 'P' : ' '}${f.has('\\Flagged') ? 'F' : ' '}`;
}

const COLUMNS: Column[] = [
  { title: '#', width: 4, align: 'right' },
  { title: 'Flg', width: 3 },
  { title: '@', width: 1 },
  { title: 'From', width: 20 },
  { title: 'Subject', width: 'flex' },
  { title: 'Date', width: 11 },
  { title: 'Size', width: 5, align: 'right' },
];

export function inboxTable(rows: MessageSummary[], width: number): string {
  return renderTable(
    COLUMNS,
    rows.map((r) => [
      String(r.n),
      flagText(r.entry),
      r.attachments ? '@' : '',
      r.from,
      r.subject,
      shortDate(r.date),
      humanSize(r.entry.size),
    ]),
    width,
  );
}

/**
 * Search terms: `from:x`, `to:x`, `subject:x`, `body:x`, or bare words matching any of them; all
 * terms must match, case-insensitively.
 */
export function matches(s: MessageSummary, query: string): boolean {
  const terms = query.match(/(?:\w+:)?(?:"[^"]*"|\S+)/g) ?? [];
  return terms.every((term) => {
    const m = /^(from|to|subject|body):(.*)$/i.exec(term);
    const field = m?.[1]?.toLowerCase();
    const needle = (m ? m[2]! : term).replace(/^"|"$/g, '').toLowerCase();
    const hay: Record<string, string> = { from: s.from, to: s.to, subject: s.subject, body: s.text };
    const fields = field ? [hay[field]!] : Object.values(hay);
    return fields.some((v) => v.toLowerCase().includes(needle));
  });
}

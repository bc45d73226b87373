/**
 * The readable text of a parsed message: its text/plain body, else its HTML rendered as text
 * (html-to-text), else ''. What a reply quotes and a terminal shows; pure, no I/O.
 */
import { createRequire } from 'node:module';
import type { Mailbox } from './address.js';
import type { ParsedMessage } from './reader.js';

// Loaded on first use: it is a heavy import and most mail has a text part.
let htmlToText: typeof import('html-to-text').htmlToText | undefined;

export function bodyText(msg: ParsedMessage): string {
  if (msg.text !== undefined) return msg.text;
  if (msg.html !== undefined) {
    htmlToText ??= (createRequire(import.meta.url)('html-to-text') as typeof import('html-to-text'))
      .htmlToText;
    return htmlToText(msg.html, { wordwrap: 78 });
  }
  return '';
}

/** `Name <a@b>, c@d` for people to read (not a header: nothing is quoted or encoded). */
export function mailboxListText(m: Mailbox[]): string {
  return m.map((x) => (x.name ? `${x.name} <${x.address}>` : x.address)).join(', ');
}

/**
 * Showing one message: the decoded main header fields (RFC 2047 words, address lists), the list
 * of attachments, and the text (HTML-only mail rendered with html-to-text). `--headers` shows
 * every field, decoded; `--raw` bypasses all of this.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeEncodedWords, type ParsedMessage } from '../mime/index.js';
import { bodyText, mailboxText } from './summary.js';
import { humanSize, sanitize } from './table.js';

export function attachmentName(a: ParsedMessage['attachments'][number], i: number): string {
  return a.filename ?? `attachment-${i + 1}`;
}

export function renderMessage(msg: ParsedMessage, opts: { allHeaders?: boolean } = {}): string {
  const lines: string[] = [];
  if (opts.allHeaders) {
    for (const f of msg.headers.fields) lines.push(`${f.name}: ${sanitize(decodeEncodedWords(f.value))}`);
  } else {
    const add = (name: string, value: string | undefined) => {
      if (value) lines.push(`${name}: ${sanitize(value)}`);
    };
    add('From', mailboxText(msg.from));
    add('To', mailboxText(msg.to));
    add('Cc', mailboxText(msg.cc));
    add('Date', msg.date?.toString());
    add('Subject', msg.subject);
  }
  const atts = msg.attachments;
  if (atts.length) {
    lines.push(`Attachments: ${atts.length}`);
    atts.forEach((a, i) => {
      lines.push(`  ${i + 1}. ${sanitize(attachmentName(a, i))} (${a.contentType}, ${humanSize(a.size)})`);
    });
  }
  lines.push('');
  // Keep line breaks and tabs of the body, but no terminal escapes.
  const text = bodyText(msg).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd');
  lines.push(text.replace(/\n*$/, ''));
  return lines.join('\n') + '\n';
}

/** A file name safe to create in a directory: no path, no controls, not hidden. */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const clean = base
    .replace(/[\u0000-\u001f\u007f]/g, '_')
    .replace(/^\.+/, '_')
    .slice(0, 200);
  return clean || 'attachment';
}

/** Writes every attachment with content into `dir` (created), never overwriting: "a (1).pdf". */
export async function saveAttachments(
  msg: ParsedMessage,
  dir: string,
): Promise<Array<{ path: string; size: number }>> {
  await mkdir(dir, { recursive: true });
  const saved: Array<{ path: string; size: number }> = [];
  for (const [i, a] of msg.attachments.entries()) {
    if (!a.content) continue;
    const name = safeFileName(attachmentName(a, i));
    const dot = name.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    for (let n = 0; ; n++) {
      const path = join(dir, n ? `${stem} (${n})${ext}` : name);
      try {
        await writeFile(path, a.content, { flag: 'wx' });
        saved.push({ path, size: a.content.length });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }
  return saved;
}

/**
 * Message composer (RFC 5322 fields, RFC 2045-2047 MIME, RFC 2046 multiparts, RFC 2183 and
 * RFC 2231 file names, RFC 2387 multipart/related). Output is a Readable of CRLF lines.
 *
 * Structure: multipart/mixed (attachments) ⊃ multipart/related (inline parts with a Content-ID,
 * only when there is HTML) ⊃ multipart/alternative (text + html); each level only when needed.
 * Encoding per text body: 7bit when it is ASCII with lines ≤ 998 and no stray controls; else
 * quoted-printable when at most a third of the bytes need escaping (mostly-ASCII text), else
 * base64 (e.g. Korean). Attachments are base64 and are read chunk by chunk (a path or stream is never held in
 * memory whole). Headers are RFC 2047-encoded only where needed and folded at 78 columns; Bcc is
 * never written. File names go out as RFC 2231 `filename*` plus an encoded-word `name=` for old
 * clients.
 *
 * Failure semantics: invalid options (no From, a header name with a colon, a CR/LF in an address)
 * throw ComposeError before any byte is produced; an unreadable attachment makes the stream
 * error.
 *
 * I/O note: `path` attachments are opened here (fs.createReadStream) because the composer's
 * callers asked for it; everything else in src/mime is I/O-free.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { formatParams } from '../entity/content-type.js';
import { Base64Encoder, encodeTransferEncoding, type TransferEncoding } from '../entity/encoding/index.js';
import { generateBoundary } from '../entity/multipart.js';
import { encodeHeaderValue, foldHeader } from '../header/index.js';
import { type AddressItem, formatAddressList, type Mailbox, parseAddressList } from './address.js';
import { formatDate } from './date.js';
import { generateMessageId } from './message-id.js';

/** RFC 5322 §2.1.1: a line must not exceed 998 characters (plus CRLF). */
export const MAX_LINE_OCTETS = 998;
/** RFC 5322 §2.1.1: lines should be no more than 78 characters. */
export const PREFERRED_LINE_LENGTH = 78;
/** Attachment bytes read per step when streaming a file. */
const READ_CHUNK = 64 * 1024;

/** A bad compose request (reported before any output). */
export class ComposeError extends Error {
  override name = 'ComposeError';
}

/** An address as text ('Name <a@b>' or a list) or as a structured mailbox. */
export type AddressInput = string | Mailbox | AddressItem | Array<string | Mailbox | AddressItem>;

export interface ComposeAttachment {
  /** A file to read (streamed). */
  path?: string;
  /** The bytes, a string (UTF-8), or a stream of bytes. */
  content?: Buffer | Uint8Array | string | Readable;
  /** Defaults to the base name of `path`. */
  filename?: string;
  /** Defaults to application/octet-stream. */
  contentType?: string;
  /** Content-Disposition inline (with `cid`, referenced from the HTML). */
  inline?: boolean;
  /** Content-ID without angle brackets. */
  cid?: string;
}

export interface ComposeOptions {
  from: AddressInput;
  to?: AddressInput;
  cc?: AddressInput;
  /** Used only by the caller's envelope; never written as a header. */
  bcc?: AddressInput;
  replyTo?: AddressInput;
  sender?: AddressInput;
  subject?: string;
  date?: Date;
  /** With or without angle brackets; generated from `domain` when absent. */
  messageId?: string;
  inReplyTo?: string;
  references?: string | string[];
  text?: string;
  html?: string;
  attachments?: ComposeAttachment[];
  /** Extra header fields (values are RFC 2047-encoded when needed). */
  headers?: Record<string, string>;
  /** Domain of the generated Message-ID (default: the From domain, else 'localhost'). */
  domain?: string;
}

type Node =
  | { kind: 'multipart'; subtype: string; boundary: string; children: Node[] }
  | { kind: 'text'; mediaType: string; text: string }
  | { kind: 'attachment'; att: ComposeAttachment };

/** Composes a message; the result streams the bytes (CRLF line ends). */
export function composeMessage(opts: ComposeOptions): Readable {
  const head = buildHeaders(opts);
  const tree = buildTree(opts);
  return Readable.from(generate(head, tree), { objectMode: false });
}

/** Composes a message into one Buffer (tests, small messages). */
export async function composeMessageToBuffer(opts: ComposeOptions): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of composeMessage(opts)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function toItems(input: AddressInput | undefined, field: string): AddressItem[] {
  if (input === undefined) return [];
  const list = Array.isArray(input) ? input : [input];
  const out: AddressItem[] = [];
  for (const item of list) {
    if (typeof item === 'string') {
      if (/[\r\n]/.test(item)) throw new ComposeError(`${field}: line break in address`);
      const r = parseAddressList(item);
      if (r.value.length === 0) throw new ComposeError(`${field}: no address in "${item.slice(0, 80)}"`);
      out.push(...r.value);
    } else {
      out.push(item);
    }
  }
  for (const item of out) {
    const parts =
      'group' in item
        ? [item.group, ...item.members.flatMap((m) => [m.name ?? '', m.address])]
        : [item.name ?? '', item.address];
    if (parts.some((p) => /[\r\n]/.test(p))) throw new ComposeError(`${field}: line break in address`);
  }
  return out;
}

function angle(id: string): string {
  const t = id.trim();
  if (/[\r\n]/.test(t)) throw new ComposeError('line break in a message id');
  return t.startsWith('<') ? t : `<${t}>`;
}

function firstDomain(items: AddressItem[]): string | undefined {
  for (const it of items) {
    const addr = 'address' in it ? it.address : undefined;
    const at = addr?.lastIndexOf('@') ?? -1;
    if (addr && at > 0) return addr.slice(at + 1);
  }
  return undefined;
}

function buildHeaders(opts: ComposeOptions): string {
  const from = toItems(opts.from, 'from');
  if (from.length === 0) throw new ComposeError('from is required');
  const lines: string[] = [];
  const add = (name: string, value: string) => lines.push(foldHeader(name, value));
  add('From', formatAddressList(from));
  const sender = toItems(opts.sender, 'sender');
  if (sender.length) add('Sender', formatAddressList(sender));
  for (const [name, field] of [
    ['To', 'to'],
    ['Cc', 'cc'],
    ['Reply-To', 'replyTo'],
  ] as const) {
    const items = toItems(opts[field], field);
    if (items.length) add(name, formatAddressList(items));
  }
  toItems(opts.bcc, 'bcc'); // validated, never written
  if (opts.subject !== undefined) add('Subject', encodeHeaderValue(opts.subject));
  add('Date', formatDate(opts.date ?? new Date()));
  const domain = opts.domain ?? firstDomain(from) ?? 'localhost';
  add('Message-ID', opts.messageId ? angle(opts.messageId) : angle(generateMessageId(domain)));
  if (opts.inReplyTo) add('In-Reply-To', angle(opts.inReplyTo));
  if (opts.references !== undefined) {
    const refs = Array.isArray(opts.references)
      ? opts.references
      : opts.references.split(/\s+/).filter(Boolean);
    if (refs.length) add('References', refs.map(angle).join(' '));
  }
  add('MIME-Version', '1.0');
  for (const [name, value] of Object.entries(opts.headers ?? {})) {
    if (!/^[!-9;-~]+$/.test(name)) throw new ComposeError(`invalid header name "${name.slice(0, 40)}"`);
    add(name, encodeHeaderValue(String(value)));
  }
  return lines.join('\r\n') + '\r\n';
}

function buildTree(opts: ComposeOptions): Node {
  const atts = opts.attachments ?? [];
  for (const a of atts) {
    if (a.path === undefined && a.content === undefined)
      throw new ComposeError('attachment without path or content');
    if (a.cid !== undefined && /[\r\n<>]/.test(a.cid)) throw new ComposeError('invalid attachment cid');
  }
  const hasHtml = opts.html !== undefined;
  let body: Node | undefined;
  const text: Node | undefined =
    opts.text !== undefined ? { kind: 'text', mediaType: 'text/plain', text: opts.text } : undefined;
  const html: Node | undefined = hasHtml
    ? { kind: 'text', mediaType: 'text/html', text: opts.html! }
    : undefined;
  if (text && html) body = multipart('alternative', [text, html]);
  else body = text ?? html ?? { kind: 'text', mediaType: 'text/plain', text: '' };
  const related = hasHtml ? atts.filter((a) => a.inline && a.cid) : [];
  const mixed = atts.filter((a) => !related.includes(a));
  if (related.length) body = multipart('related', [body, ...related.map(attNode)]);
  if (mixed.length) body = multipart('mixed', [body, ...mixed.map(attNode)]);
  return body;
}

function multipart(subtype: string, children: Node[]): Node {
  return { kind: 'multipart', subtype, boundary: generateBoundary(), children };
}

function attNode(att: ComposeAttachment): Node {
  return { kind: 'attachment', att };
}

/** Canonical CRLF line ends for text bodies (RFC 2046 §4.1.1). */
function toCrlf(text: string): string {
  return text.replace(/\r\n|\r|\n/g, '\r\n');
}

/**
 * 7bit when possible (ASCII, no controls, lines ≤ 78 so no wrapping is needed, RFC 5322 §2.1.1);
 * else quoted-printable for mostly-ASCII text, base64 for mostly 8-bit text.
 */
export function chooseTextEncoding(data: Buffer): TransferEncoding {
  let high = 0;
  let ctl = 0;
  let lineLen = 0;
  let longLine = false;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === 0x0a) {
      lineLen = 0;
      continue;
    }
    if (b !== 0x0d && ++lineLen > PREFERRED_LINE_LENGTH) longLine = true;
    if (b >= 0x80) high++;
    else if ((b < 0x20 && b !== 0x09 && b !== 0x0d) || b === 0x7f) ctl++;
  }
  if (high === 0 && ctl === 0 && !longLine) return '7bit';
  // QP triples each 8-bit byte, base64 grows everything by 4/3: QP stays readable and no
  // larger while at most a third of the bytes need escaping (Latin text; not Korean UTF-8).
  return (high + ctl) * 3 <= data.length ? 'quoted-printable' : 'base64';
}

async function* generate(head: string, tree: Node): AsyncGenerator<Buffer> {
  yield* entity(tree, head);
}

async function* entity(node: Node, head: string): AsyncGenerator<Buffer> {
  if (node.kind === 'multipart') {
    // A boundary must not occur in any part (RFC 2046 §5.1.1). Text parts are known here; binary
    // parts are base64 and QP escapes '=', so "=_" in the boundary cannot appear in them.
    let boundary = node.boundary;
    while (node.children.some((c) => c.kind === 'text' && c.text.includes(boundary)))
      boundary = generateBoundary();
    yield Buffer.from(
      head +
        foldHeader('Content-Type', `multipart/${node.subtype}${formatParams({ boundary })}`) +
        '\r\n\r\n',
    );
    for (const child of node.children) {
      yield Buffer.from(`--${boundary}\r\n`);
      yield* entity(child, '');
      yield Buffer.from('\r\n');
    }
    yield Buffer.from(`--${boundary}--\r\n`);
    return;
  }
  if (node.kind === 'text') {
    const data = Buffer.from(toCrlf(node.text), 'utf8');
    const cte = chooseTextEncoding(data);
    const h =
      head +
      foldHeader('Content-Type', `${node.mediaType}${formatParams({ charset: 'utf-8' })}`) +
      `\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n`;
    const body = cte === '7bit' ? data : encodeTransferEncoding(data, cte);
    // Base64 output ends with CRLF, but the CRLF before the next delimiter belongs to the delimiter.
    yield Buffer.from(h);
    yield cte === 'base64' && body.length >= 2 ? body.subarray(0, -2) : body;
    return;
  }
  const att = node.att;
  const filename = att.filename ?? (att.path !== undefined ? basename(att.path) : undefined);
  const type = (att.contentType ?? 'application/octet-stream').toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type))
    throw new ComposeError(`invalid content type "${type}"`);
  let h = head;
  if (filename !== undefined) {
    // The encoded-word name= is for clients that predate RFC 2231 (RFC 2047 §5 forbids it, but
    // Outlook and Gmail read it); filename* is the exact form.
    const ascii = /^[\x20-\x7e]*$/.test(filename);
    const name = ascii ? formatParams({ name: filename }) : `; name="${shortEncodedWords(filename)}"`;
    h += foldHeader('Content-Type', `${type}${name}`) + '\r\n';
    h += foldHeader(
      'Content-Disposition',
      `${att.inline ? 'inline' : 'attachment'}${formatParams({ filename })}`,
    );
  } else {
    h += foldHeader('Content-Type', type) + '\r\n';
    h += `Content-Disposition: ${att.inline ? 'inline' : 'attachment'}`;
  }
  h += '\r\nContent-Transfer-Encoding: base64\r\n';
  if (att.cid !== undefined) h += foldHeader('Content-ID', `<${att.cid}>`) + '\r\n';
  yield Buffer.from(h + '\r\n');
  const enc = new Base64Encoder();
  let pending: Buffer | undefined;
  for await (const chunk of source(att)) {
    const out = enc.push(chunk);
    if (out.length) {
      if (pending) yield pending;
      pending = out;
    }
  }
  const tail = enc.end();
  const last = tail.length ? (pending ? Buffer.concat([pending, tail]) : tail) : pending;
  if (last) yield last.subarray(0, last.length - 2);
}

/** UTF-8 B words of ≤ 52 characters, so `name="…"` lines fold within 78 columns. */
function shortEncodedWords(text: string): string {
  const words: string[] = [];
  let cur = '';
  for (const cp of text) {
    if (Buffer.byteLength(cur + cp) > 30) {
      words.push(cur);
      cur = '';
    }
    cur += cp;
  }
  if (cur) words.push(cur);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join(' ');
}

async function* source(att: ComposeAttachment): AsyncGenerator<Buffer> {
  const c = att.content;
  if (c === undefined) {
    for await (const chunk of createReadStream(att.path!, { highWaterMark: READ_CHUNK }))
      yield chunk as Buffer;
  } else if (typeof c === 'string') {
    yield Buffer.from(c, 'utf8');
  } else if (c instanceof Uint8Array) {
    for (let i = 0; i < c.length; i += READ_CHUNK)
      yield Buffer.from(c.buffer, c.byteOffset + i, Math.min(READ_CHUNK, c.length - i));
  } else {
    for await (const chunk of c)
      yield typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
  }
}

/**
 * Reading a whole message: feeds the streaming parser from a Buffer, an async iterable or a
 * Readable without blocking the event loop, then reads the top-level fields (RFC 5322 §3.6),
 * the text and HTML bodies (charset-aware) and the attachments.
 *
 * Which part is what: leaves of type text/plain or text/html whose disposition is not
 * 'attachment' are body text (several are joined with '\n', as mail readers show them one after
 * another); every other leaf is an attachment, `inline` when its disposition is inline or it sits
 * in a multipart/related. An encapsulated message (message/rfc822, message/global) is one
 * attachment: its inner parts are not the outer message's body. Body text has CRLF turned into
 * LF.
 *
 * Failure semantics: content problems are defects; limits throw MimeLimitError; a failing input
 * stream rejects with its own error.
 */

import { isAscii } from 'node:buffer';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { TextDecoder } from 'node:util';
import type { Defect } from '../defects.js';
import { decodeCharset, decodeUtf8OrLatin1, normalizeCharset } from '../entity/charset.js';
import { decodeEncodedWords, type Headers } from '../header/index.js';
import { type AddressItem, type Mailbox, parseAddressList } from './address.js';
import { parseDate } from './date.js';
import { parseMessageIds } from './message-id.js';
import { MimeParser, type MimeParserOptions, type MimePart } from './parser.js';

/** Smallest and largest slice handed to the parser in one synchronous step. */
export const MIN_SLICE = 4 * 1024;
export const MAX_SLICE = 1024 * 1024;
/** The time one write should take; slices shrink above it and grow well below it. */
export const TARGET_SLICE_MS = 4;
/** The feeder yields to the event loop once a run of synchronous work has taken this long. */
export const MAX_SYNC_MS = 10;

/** Message bytes in any form the readers accept. */
export type MimeInput = Uint8Array | AsyncIterable<Uint8Array | string> | Iterable<Uint8Array>;

/** Parses into a part tree; see {@link MimeParserOptions}. */
export async function parseMime(
  input: MimeInput,
  opts: MimeParserOptions = {},
): Promise<{ root: MimePart; defects: Defect[] }> {
  const parser = new MimeParser(opts);
  // Slices adapt so each write stays near TARGET_SLICE_MS: cost per byte varies by orders of
  // magnitude (base64 lines vs 11-byte parts), so a fixed size either crawls or blocks.
  let slice = MIN_SLICE;
  let last = performance.now();
  const feed = async (chunk: Uint8Array) => {
    for (let i = 0; i < chunk.length; ) {
      const n = Math.min(slice, chunk.length - i);
      const t = performance.now();
      parser.write(i === 0 && n === chunk.length ? chunk : chunk.subarray(i, i + n));
      i += n;
      const now = performance.now();
      const took = now - t;
      if (took > TARGET_SLICE_MS) slice = Math.max(MIN_SLICE, slice >> 1);
      else if (took < TARGET_SLICE_MS / 4 && n === slice) slice = Math.min(MAX_SLICE, slice * 2);
      if (now - last > MAX_SYNC_MS) {
        await yieldToLoop();
        last = performance.now();
      }
    }
  };
  if (input instanceof Uint8Array) await feed(input);
  else if (Symbol.asyncIterator in input) {
    for await (const c of input as AsyncIterable<Uint8Array | string>)
      await feed(typeof c === 'string' ? Buffer.from(c) : c);
  } else {
    for (const c of input as Iterable<Uint8Array>) await feed(c);
  }
  const root = parser.end();
  return { root, defects: parser.defects };
}

/** One attachment of a parsed message. */
export interface Attachment {
  part: MimePart;
  filename: string | undefined;
  /** Lowercase media type. */
  contentType: string;
  contentId: string | undefined;
  /** Shown in place (disposition inline, or inside multipart/related). */
  inline: boolean;
  /** Decoded bytes, when bodies are collected (the default). */
  content: Buffer | undefined;
  size: number;
  sha256: string | undefined;
}

/** A message read for display: decoded top-level fields, bodies, attachments, the part tree. */
export interface ParsedMessage {
  headers: Headers;
  subject: string | undefined;
  /** Address fields with groups flattened into their mailboxes. */
  from: Mailbox[];
  to: Mailbox[];
  cc: Mailbox[];
  bcc: Mailbox[];
  replyTo: Mailbox[];
  date: Date | undefined;
  /** Message-ID without angle brackets. */
  messageId: string | undefined;
  inReplyTo: string | undefined;
  references: string[];
  root: MimePart;
  /** Every part, depth first, containers included. */
  parts: MimePart[];
  /** Body text (text/plain leaves), LF line ends. */
  text: string | undefined;
  /** HTML body (text/html leaves), LF line ends. */
  html: string | undefined;
  attachments: Attachment[];
  defects: Defect[];
}

export interface ParseMessageOptions {
  /** 'all' (default) keeps every decoded body; 'text' keeps only text/* (attachments hashed). */
  collect?: 'all' | 'text';
  /** Hash every body (default: true when collect is 'text'). */
  hash?: boolean;
  maxDepth?: number;
  maxParts?: number;
  maxHeaderBytes?: number;
}

/** Parses a message from bytes or a stream. */
export async function parseMessage(input: MimeInput, opts: ParseMessageOptions = {}): Promise<ParsedMessage> {
  const collect = opts.collect ?? 'all';
  const { root, defects } = await parseMime(input, {
    ...opts,
    collect,
    hash: opts.hash ?? collect === 'text',
  });
  // Big text bodies are decoded here in slices between event-loop turns, not in readMessage.
  // Every text body is decoded here, between event-loop turns (big ones in slices), so neither
  // a huge text part nor thousands of small ones make one long synchronous step.
  const decoded = new Map<MimePart, DecodedText>();
  let last = performance.now();
  const visit = async (p: MimePart): Promise<void> => {
    for (const c of p.children) await visit(c);
    if (!p.body || !isBodyTextCandidate(p)) return;
    if (p.body.length > SYNC_TEXT_BYTES) decoded.set(p, await decodeTextAsync(p.body, p.charset));
    else decoded.set(p, decodeText(p.body, p.charset, true));
    if (performance.now() - last > MAX_SYNC_MS) {
      await yieldToLoop();
      last = performance.now();
    }
  };
  await visit(root);
  return readMessage(root, defects, decoded);
}

type DecodedText = ReturnType<typeof decodeCharset>;

/** Text bodies up to this size are decoded synchronously; larger ones in slices. */
export const SYNC_TEXT_BYTES = 256 * 1024;

function isBodyTextCandidate(p: MimePart): boolean {
  return (p.mediaType === 'text/plain' || p.mediaType === 'text/html') && p.disposition !== 'attachment';
}

/**
 * Builds the ParsedMessage view of a parsed tree (synchronous; for callers of MimeParser).
 * `decoded` holds text bodies already decoded by the caller.
 */
export function readMessage(
  root: MimePart,
  defects: Defect[] = [],
  decoded?: ReadonlyMap<MimePart, DecodedText>,
): ParsedMessage {
  const h = root.headers;
  const subject = h.get('subject');
  const msg: ParsedMessage = {
    headers: h,
    subject: subject === undefined ? undefined : decodeEncodedWords(subject),
    from: mailboxes(h, 'from', defects),
    to: mailboxes(h, 'to', defects),
    cc: mailboxes(h, 'cc', defects),
    bcc: mailboxes(h, 'bcc', defects),
    replyTo: mailboxes(h, 'reply-to', defects),
    date: dateOf(h.get('date')),
    messageId: firstId(h.get('message-id')),
    inReplyTo: firstId(h.get('in-reply-to')),
    references: ids(h.get('references')),
    root,
    parts: [],
    text: undefined,
    html: undefined,
    attachments: [],
    defects,
  };
  const texts: string[] = [];
  const htmls: string[] = [];
  const walk = (p: MimePart, related: boolean, inMessage: boolean) => {
    msg.parts.push(p);
    if (p.children.length && !p.isMessage) {
      for (const c of p.children) walk(c, related || p.mediaType === 'multipart/related', inMessage);
      return;
    }
    if (p.isMessage) for (const c of p.children) walk(c, false, true);
    if (inMessage) return;
    if (p.boundary !== undefined) {
      // Boundary never found: the body was all preamble; show it as text rather than lose it.
      if (p.preamble) texts.push(decodeUtf8OrLatin1(p.preamble).replace(/\r\n/g, '\n'));
      return;
    }
    const isText = isBodyTextCandidate(p);
    if (isText && p.body) {
      const r = decoded?.get(p) ?? decodeText(p.body, p.charset, true);
      if (r.defect) defects.push({ ...r.defect, path: p.path });
      (p.mediaType === 'text/html' ? htmls : texts).push(r.text);
      return;
    }
    if (isText) return;
    msg.attachments.push({
      part: p,
      filename: p.filename,
      contentType: p.mediaType,
      contentId: p.contentId,
      inline: p.disposition === 'inline' || (p.disposition === undefined && related),
      content: p.body,
      size: p.size,
      sha256: p.sha256,
    });
  };
  walk(root, false, false);
  if (texts.length) msg.text = texts.join('\n');
  if (htmls.length) msg.html = htmls.join('\n');
  return msg;
}

/** Decoded text of a text/* part's body (charset-aware), or undefined when not kept. */
export function partText(part: MimePart): string | undefined {
  return part.body ? decodeText(part.body, part.charset, false).text : undefined;
}

/** Charsets whose bytes are 7-bit yet not ASCII (escape- or shift-based) or not byte-oriented. */
const NOT_ASCII_COMPATIBLE = /^(utf-7|utf-16|utf-32|iso-2022|hz-gb|x-user-defined)/;

/**
 * decodeCharset plus two shortcuts that matter for big bodies: pure-ASCII bytes in an
 * ASCII-compatible charset are read directly (TextDecoder for windows-1252 takes ~100 ms per
 * 2 MB), and CRLF → LF is done on bytes, which is much cheaper than a string replace.
 */
export function decodeText(
  body: Buffer,
  charset: string | undefined,
  lf: boolean,
): ReturnType<typeof decodeCharset> {
  const enc = charset === undefined ? 'utf-8' : normalizeCharset(charset);
  const compatible = enc !== undefined && !NOT_ASCII_COMPATIBLE.test(enc);
  const bytes = lf && compatible ? crlfToLf(body) : body;
  if (compatible && isAscii(bytes)) return { text: bytes.toString('latin1') };
  const r = decodeCharset(bytes, charset);
  if (lf && !compatible) r.text = r.text.replace(/\r\n/g, '\n');
  return r;
}

/** Drops the CR of every CRLF. */
function crlfToLf(buf: Buffer): Buffer {
  const i = buf.indexOf(0x0d);
  if (i < 0) return buf;
  const out = Buffer.allocUnsafe(buf.length);
  const o = dropCr(buf, out, i, buf.length, buf.copy(out, 0, 0, i));
  return out.subarray(0, o);
}

function dropCr(buf: Buffer, out: Buffer, from: number, to: number, o: number): number {
  for (let i = from; i < to; i++) {
    const b = buf[i]!;
    if (b !== 0x0d || buf[i + 1] !== 0x0a) out[o++] = b;
  }
  return o;
}

const ASYNC_SLICE = 128 * 1024;

/** decodeText for big bodies: the same result, computed in slices with event-loop turns between. */
export async function decodeTextAsync(body: Buffer, charset: string | undefined): Promise<DecodedText> {
  const enc = charset === undefined ? 'utf-8' : normalizeCharset(charset);
  if (enc === undefined || NOT_ASCII_COMPATIBLE.test(enc)) return decodeText(body, charset, true);
  let bytes = body;
  const first = body.indexOf(0x0d);
  if (first >= 0) {
    const out = Buffer.allocUnsafe(body.length);
    let o = body.copy(out, 0, 0, first);
    for (let i = first; i < body.length; i += ASYNC_SLICE) {
      o = dropCr(body, out, i, Math.min(body.length, i + ASYNC_SLICE), o);
      await yieldToLoop();
    }
    bytes = out.subarray(0, o);
  }
  // ASCII, UTF-8 and undeclared text decode natively and fast; other charsets go through a
  // streaming TextDecoder a slice at a time.
  if (isAscii(bytes)) return { text: bytes.toString('latin1') };
  if (charset === undefined || enc === 'utf-8') return decodeCharset(bytes, charset);
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(enc);
  } catch {
    return decodeCharset(bytes, charset);
  }
  const pieces: string[] = [];
  for (let i = 0; i < bytes.length; i += ASYNC_SLICE) {
    pieces.push(
      decoder.decode(bytes.subarray(i, i + ASYNC_SLICE), { stream: i + ASYNC_SLICE < bytes.length }),
    );
    await yieldToLoop();
  }
  return { text: pieces.join('') };
}

function mailboxes(h: Headers, name: string, defects: Defect[]): Mailbox[] {
  const out: Mailbox[] = [];
  for (const v of h.getAll(name)) {
    const r = parseAddressList(v);
    for (const d of r.defects) defects.push({ ...d, path: d.path ?? '' });
    for (const item of r.value) flatten(item, out);
  }
  return out;
}

function flatten(item: AddressItem, out: Mailbox[]): void {
  if ('address' in item) out.push(item);
  else for (const m of item.members) out.push(m);
}

function dateOf(v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  const d = parseDate(v);
  return d instanceof Date && !Number.isNaN(d.getTime()) ? d : undefined;
}

function ids(v: string | undefined): string[] {
  if (v === undefined) return [];
  return parseMessageIds(v).map((id) => (id.startsWith('<') && id.endsWith('>') ? id.slice(1, -1) : id));
}

function firstId(v: string | undefined): string | undefined {
  return ids(v)[0];
}

/**
 * `posthorn mime parse` and `posthorn mime build`: the command-line face of src/mime.
 *
 * `mime parse FILE|-` streams the message (never reads a big file whole), prints an outline of
 * the part tree, or with `--json` one JSON object (schema in the README and `ParseJson` below).
 * `mime build` composes a message from flags and writes it to stdout.
 *
 * Failure semantics: bad input or a failed read prints one line to stderr and sets exit code 1;
 * a usage error (missing or conflicting flags) exits with 2. Never a stack trace.
 */
import { createReadStream } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import {
  type ComposeOptions,
  composeMessage,
  decodeCharset,
  decodeEncodedWords,
  type Mailbox,
  MimeLimitError,
  type MimePart,
  parseAddressList,
  parseDate,
  parseMessageIds,
  parseMime,
} from '../mime/index.js';

/** Bytes of decoded text shown per text/* part in the JSON output. */
export const JSON_TEXT_LIMIT = 64 * 1024;

/** One part in `mime parse --json`. */
export interface PartJson {
  path: string;
  contentType: string;
  charset: string | null;
  transferEncoding: string;
  disposition: string | null;
  filename: string | null;
  contentId: string | null;
  description: string | null;
  /** Decoded body bytes (0 for multipart containers). */
  size: number;
  /** Hex SHA-256 of the decoded body; null for multipart containers. */
  sha256: string | null;
  /** Decoded text of text/* parts (first 64 KiB of the body), else absent. */
  text?: string;
}

/** The object `mime parse --json` prints. */
export interface ParseJson {
  headers: {
    subject: string | null;
    from: { name: string | null; address: string }[];
    to: { name: string | null; address: string }[];
    cc: { name: string | null; address: string }[];
    date: string | null;
    messageId: string | null;
  };
  defects: { type: string; message: string; path: string }[];
  parts: PartJson[];
}

class UsageError extends Error {}

/** Adds the `mime` command group to a commander program. */
export function registerMimeCommands(program: Command): void {
  const mime = program.command('mime').description('parse and build MIME messages');
  mime
    .command('parse')
    .description('show the part tree of a message (FILE or - for stdin)')
    .argument('<file>', 'message file, or - for standard input')
    .option('--json', 'print one JSON object')
    .action(async (file: string, flags: { json?: boolean }) => {
      await run('mime parse', () => parseCommand(file, flags.json === true));
    });
  mime
    .command('build')
    .description('compose a message and write it to standard output')
    .requiredOption('--from <address>', 'From address')
    .option('--to <address>', 'To address (repeatable)', collect, [])
    .option('--cc <address>', 'Cc address (repeatable)', collect, [])
    .option('--subject <text>', 'Subject', '')
    .option('--text <text>', 'plain text body')
    .option('--text-file <file>', 'plain text body from a file (UTF-8)')
    .option('--html-file <file>', 'HTML body from a file (UTF-8)')
    .option('--attach <file>', 'attach a file (repeatable)', collect, [])
    .action(async (flags: BuildFlags) => {
      await run('mime build', () => buildCommand(flags));
    });
}

interface BuildFlags {
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  text?: string;
  textFile?: string;
  htmlFile?: string;
  attach: string[];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function run(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    let msg = e instanceof MimeLimitError ? `limit exceeded: ${e.message}` : (e?.message ?? String(err));
    if (e?.code === 'ENOENT' && e.path) msg = `no such file: ${e.path}`;
    process.stderr.write(`posthorn ${name}: ${msg.split('\n')[0]}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  }
}

async function parseCommand(file: string, json: boolean): Promise<void> {
  const input = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 64 * 1024 });
  const texts = new Map<MimePart, { chunks: Buffer[]; size: number }>();
  const { root, defects } = await parseMime(input, {
    collect: 'none',
    hash: true,
    onPart(part) {
      if (part.mediaType.startsWith('text/')) texts.set(part, { chunks: [], size: 0 });
    },
    onPartData(part, chunk) {
      const t = texts.get(part);
      if (t && t.size < JSON_TEXT_LIMIT) {
        const take = chunk.subarray(0, JSON_TEXT_LIMIT - t.size);
        t.chunks.push(Buffer.from(take));
        t.size += take.length;
      }
    },
  });
  const parts: PartJson[] = [];
  const walk = (p: MimePart) => {
    const entry: PartJson = {
      path: p.path,
      contentType: p.mediaType,
      charset: p.charset ?? null,
      transferEncoding: p.transferEncoding,
      disposition: p.disposition ?? null,
      filename: p.filename ?? null,
      contentId: p.contentId ?? null,
      description: p.description ?? null,
      size: p.size,
      sha256: p.boundary !== undefined ? null : (p.sha256 ?? null),
    };
    const t = texts.get(p);
    if (t) {
      const r = decodeCharset(Buffer.concat(t.chunks), p.charset);
      entry.text = p.size > t.size ? r.text.replace(/\uFFFD+$/, '') : r.text;
    }
    parts.push(entry);
    for (const c of p.children) walk(c);
  };
  walk(root);
  const h = root.headers;
  const subject = h.get('subject');
  const date = h.get('date');
  const parsedDate = date === undefined ? undefined : parseDate(date);
  const out: ParseJson = {
    headers: {
      subject: subject === undefined ? null : decodeEncodedWords(subject),
      from: addresses(h.getAll('from')),
      to: addresses(h.getAll('to')),
      cc: addresses(h.getAll('cc')),
      date: parsedDate && !Number.isNaN(parsedDate.getTime()) ? parsedDate.toISOString() : (date ?? null),
      messageId: firstMessageId(h.get('message-id')),
    },
    defects: defects.map((d) => ({ type: d.type, message: d.message, path: d.path ?? '' })),
    parts,
  };
  if (json) {
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  process.stdout.write(outline(out));
}

function addresses(values: string[]): { name: string | null; address: string }[] {
  const out: { name: string | null; address: string }[] = [];
  const add = (m: Mailbox) => out.push({ name: m.name ?? null, address: m.address });
  for (const v of values) {
    for (const item of parseAddressList(v).value) {
      if ('address' in item) add(item);
      else item.members.forEach(add);
    }
  }
  return out;
}

function firstMessageId(v: string | undefined): string | null {
  if (v === undefined) return null;
  const id = parseMessageIds(v)[0];
  if (id === undefined) return v.trim() || null;
  return id.startsWith('<') && id.endsWith('>') ? id.slice(1, -1) : id;
}

function outline(j: ParseJson): string {
  const lines: string[] = [];
  const who = (l: { name: string | null; address: string }[]) =>
    l.map((m) => (m.name ? `${m.name} <${m.address}>` : m.address)).join(', ');
  if (j.headers.subject !== null) lines.push(`Subject: ${j.headers.subject}`);
  if (j.headers.from.length) lines.push(`From:    ${who(j.headers.from)}`);
  if (j.headers.to.length) lines.push(`To:      ${who(j.headers.to)}`);
  if (j.headers.cc.length) lines.push(`Cc:      ${who(j.headers.cc)}`);
  if (j.headers.date) lines.push(`Date:    ${j.headers.date}`);
  lines.push('');
  for (const p of j.parts) {
    const depth = p.path === '' ? 0 : p.path.split('.').length;
    const bits = [p.contentType];
    if (p.charset) bits.push(`charset=${p.charset}`);
    if (p.transferEncoding !== '7bit') bits.push(p.transferEncoding);
    if (p.disposition) bits.push(p.disposition);
    if (p.filename !== null) bits.push(JSON.stringify(p.filename));
    if (p.contentId) bits.push(`<${p.contentId}>`);
    if (p.sha256 !== null) bits.push(`${p.size} bytes`);
    lines.push(`${'  '.repeat(depth)}${p.path || '(message)'}  ${bits.join('  ')}`);
  }
  if (j.defects.length) {
    lines.push('', 'Defects:');
    for (const d of j.defects) lines.push(`  ${d.path || '(message)'}: ${d.type}: ${d.message}`);
  }
  return lines.join('\n') + '\n';
}

async function buildCommand(flags: BuildFlags): Promise<void> {
  if (flags.text !== undefined && flags.textFile !== undefined) {
    throw new UsageError('use either --text or --text-file, not both');
  }
  if (flags.to.length === 0 && flags.cc.length === 0)
    throw new UsageError('at least one --to or --cc is needed');
  const opts: ComposeOptions = { from: flags.from, to: flags.to, cc: flags.cc, subject: flags.subject };
  if (flags.text !== undefined) opts.text = flags.text;
  if (flags.textFile !== undefined) opts.text = await readFile(flags.textFile, 'utf8');
  if (flags.htmlFile !== undefined) opts.html = await readFile(flags.htmlFile, 'utf8');
  // Fail before writing anything rather than halfway through the output.
  for (const path of flags.attach) await access(path);
  if (flags.attach.length) opts.attachments = flags.attach.map((path) => ({ path }));
  await pipeline(composeMessage(opts), process.stdout);
}

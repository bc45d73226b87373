/**
 * 8BITMIME → 7bit conversion for a server that does not offer 8BITMIME (RFC 6152 §3: the client
 * "MUST … either convert the message to 7bit … or treat this as a permanent error"). Each leaf
 * part whose body holds octets above 127 is re-encoded: text/* as quoted-printable (CRLF stay hard
 * line breaks, so the decoded text is the same bytes), anything else as base64; its
 * Content-Transfer-Encoding field is replaced (or added). Multiparts are walked by their
 * boundaries, message/rfc822 parts are converted inside and relabelled 7bit. Every byte of a part
 * that needs no conversion is kept as it was.
 *
 * Failure semantics: what cannot be converted without changing meaning — 8-bit octets in a header
 * field (that needs SMTPUTF8, RFC 6532), in a multipart preamble or epilogue, or a part nested
 * deeper than MAX_DOWNGRADE_DEPTH — throws DowngradeError; the queue fails the recipients with
 * 5.6.3 ("conversion required but not supported") and a DSN. The message is held in memory while
 * converting: this path is only for the rare 7-bit-only server and is bounded by the message size
 * limit.
 */
import {
  Base64Encoder,
  type HeaderField,
  parseContentType,
  parseHeaderBlock,
  QpEncoder,
} from '../../mime/index.js';

export const MAX_DOWNGRADE_DEPTH = 20;

export class DowngradeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DowngradeError';
  }
}

const CRLF = Buffer.from('\r\n');

/** True when any octet is above 127. */
export function has8bit(buf: Uint8Array): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i]! > 0x7f) return true;
  return false;
}

/** The message converted to 7bit (the input itself when it is 7bit already). */
export function downgradeTo7bit(message: Buffer): Buffer {
  if (!has8bit(message)) return message;
  return entity(message, 0);
}

function splitHead(buf: Buffer): { head: Buffer; body: Buffer; sep: Buffer } {
  if (buf.subarray(0, 2).equals(CRLF)) return { head: Buffer.alloc(0), body: buf.subarray(2), sep: CRLF };
  const i = buf.indexOf('\r\n\r\n');
  if (i < 0) return { head: buf, body: Buffer.alloc(0), sep: Buffer.alloc(0) };
  return { head: buf.subarray(0, i + 2), body: buf.subarray(i + 4), sep: CRLF };
}

function field(fields: HeaderField[], name: string): HeaderField | undefined {
  const n = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === n);
}

/** The header block with Content-Transfer-Encoding set to `cte` (other fields byte for byte). */
function withCte(head: Buffer, fields: HeaderField[], cte: string): Buffer {
  const line = Buffer.from(`Content-Transfer-Encoding: ${cte}`);
  const out: Buffer[] = [];
  let done = false;
  for (const f of fields) {
    if (f.name.toLowerCase() === 'content-transfer-encoding') {
      if (!done) out.push(line, CRLF);
      done = true;
      continue;
    }
    out.push(f.raw, CRLF);
  }
  if (!done) out.push(line, CRLF);
  const rebuilt = Buffer.concat(out);
  // Fields the lenient parser did not take as fields would be lost: refuse rather than drop them.
  const kept = fields.reduce((n, f) => n + f.raw.length + 2, 0);
  if (kept !== head.length) throw new DowngradeError('header block has lines that are not fields');
  return rebuilt;
}

function encode(body: Buffer, text: boolean): Buffer {
  const enc = text ? new QpEncoder() : new Base64Encoder();
  const out = Buffer.concat([enc.push(body), enc.end()]);
  return out.length > 0 && !out.subarray(out.length - 2).equals(CRLF) ? Buffer.concat([out, CRLF]) : out;
}

function entity(buf: Buffer, depth: number): Buffer {
  if (depth > MAX_DOWNGRADE_DEPTH) throw new DowngradeError('MIME structure nested too deeply to convert');
  const { head, body, sep } = splitHead(buf);
  if (has8bit(head)) throw new DowngradeError('8-bit octets in header fields need SMTPUTF8');
  if (!has8bit(body)) return buf;
  const { fields } = parseHeaderBlock(head);
  const ct = parseContentType(field(fields, 'content-type')?.value).value;
  if (ct.type === 'multipart' && ct.params.boundary) {
    return Buffer.concat([head, sep, multipart(body, ct.params.boundary, depth)]);
  }
  if (ct.mediaType === 'message/rfc822' || ct.mediaType === 'message/global') {
    if (ct.mediaType === 'message/global') throw new DowngradeError('message/global needs SMTPUTF8');
    return Buffer.concat([withCte(head, fields, '7bit'), sep, entity(body, depth + 1)]);
  }
  const cte = (field(fields, 'content-transfer-encoding')?.value ?? '7bit').trim().toLowerCase();
  if (cte === 'base64' || cte === 'quoted-printable') {
    throw new DowngradeError(`an ${cte} part holds 8-bit octets`);
  }
  const text = ct.type === 'text';
  return Buffer.concat([
    withCte(head, fields, text ? 'quoted-printable' : 'base64'),
    sep,
    encode(body, text),
  ]);
}

/** Splits at delimiter lines (RFC 2046 §5.1.1), converts each part, joins with the same lines. */
function multipart(body: Buffer, boundary: string, depth: number): Buffer {
  const delim = Buffer.from(`--${boundary}`);
  const out: Buffer[] = [];
  // Positions of delimiter lines: at the start, or right after a CRLF.
  let pos = 0;
  let partStart = -1;
  let closed = false;
  while (pos <= body.length && !closed) {
    const at = body.indexOf(delim, pos);
    if (at < 0) break;
    const lineStart = at === 0 || (at >= 2 && body[at - 1] === 0x0a && body[at - 2] === 0x0d);
    const afterDelim = at + delim.length;
    const eol = body.indexOf('\r\n', afterDelim);
    const lineEnd = eol < 0 ? body.length : eol + 2;
    const tail = body.subarray(afterDelim, eol < 0 ? body.length : eol).toString('latin1');
    if (!lineStart || !/^(--)?[ \t]*$/.test(tail)) {
      pos = afterDelim;
      continue;
    }
    // The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
    const contentEnd = at === 0 ? 0 : at - 2;
    if (partStart < 0) {
      const preamble = body.subarray(0, at);
      if (has8bit(preamble)) throw new DowngradeError('8-bit octets in a multipart preamble');
      out.push(preamble);
    } else {
      out.push(entity(body.subarray(partStart, contentEnd), depth + 1), at === 0 ? Buffer.alloc(0) : CRLF);
    }
    out.push(body.subarray(at, lineEnd));
    closed = tail.startsWith('--');
    partStart = lineEnd;
    pos = lineEnd;
  }
  if (partStart < 0) throw new DowngradeError('multipart without its boundary');
  const rest = body.subarray(partStart);
  if (!closed) {
    out.push(entity(rest, depth + 1));
  } else {
    if (has8bit(rest)) throw new DowngradeError('8-bit octets in a multipart epilogue');
    out.push(rest);
  }
  return Buffer.concat(out);
}

/**
 * Sending a message body: CRLF canonicalisation (RFC 5321 §2.3.8: lines end in CRLF, bare CR and
 * LF are not allowed), dot-stuffing for DATA (§4.5.2, the shared `DotStuffer`), and the push to
 * the socket with backpressure: one chunk in flight at a time, never the whole message.
 *
 * Failure semantics: a source that errors or a socket that dies mid-body rejects; the caller must
 * then drop the connection without sending the terminator, so a partial message is never
 * delivered. Data blocks have the §4.5.3.2.5 timeout each.
 */
import type { Readable } from 'node:stream';
import { DotStuffer } from '../../wire/dot-stuffer.js';
import { SmtpClientError } from './errors.js';
import type { Transport } from './transport.js';

const CR = 0x0d;
const LF = 0x0a;
/** Buffers handed in whole are written in slices this size, so stuffing never copies all of it. */
export const BODY_SLICE_OCTETS = 64 * 1024;

/** What `send` accepts as a message: bytes in memory, a Node stream, or any async byte iterable. */
export type MessageSource =
  | Buffer
  | Uint8Array
  | string
  | Readable
  | AsyncIterable<Buffer | Uint8Array | string>;

/**
 * Turns bare LF and bare CR into CRLF, across chunk boundaries: a CR at the end of a chunk waits
 * for the next one to learn whether an LF follows. Existing CRLF pairs pass unchanged.
 */
export class CrlfNormalizer {
  private pendingCr = false;
  /** True once any line ending was rewritten (for logging; the bytes are still sent). */
  changed = false;

  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const parts: Buffer[] = [];
    let start = 0;
    let i = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (chunk[0] === LF) {
        parts.push(Buffer.from([CR, LF]));
        start = i = 1;
      } else {
        parts.push(Buffer.from([CR, LF]));
        this.changed = true;
      }
    }
    for (; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === LF) {
        parts.push(chunk.subarray(start, i), CRLF);
        this.changed = true;
        start = i + 1;
      } else if (b === CR) {
        if (i + 1 === chunk.length) {
          parts.push(chunk.subarray(start, i));
          this.pendingCr = true;
          start = chunk.length;
        } else if (chunk[i + 1] === LF) {
          i++; // a proper CRLF: keep it in the current run
        } else {
          parts.push(chunk.subarray(start, i), CRLF);
          this.changed = true;
          start = i + 1;
        }
      }
    }
    if (parts.length === 0) return chunk;
    if (start < chunk.length) parts.push(chunk.subarray(start));
    return Buffer.concat(parts);
  }

  /** Flushes a CR held back at the very end of the message. */
  end(): Buffer {
    if (!this.pendingCr) return EMPTY;
    this.pendingCr = false;
    this.changed = true;
    return CRLF;
  }
}

const CRLF = Buffer.from('\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);

/** Iterates a source as Buffers; in-memory sources in slices of BODY_SLICE_OCTETS. */
export async function* chunksOf(source: MessageSource): AsyncGenerator<Buffer> {
  if (typeof source === 'string') source = Buffer.from(source, 'utf8');
  if (source instanceof Uint8Array) {
    const buf = Buffer.isBuffer(source)
      ? source
      : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
    for (let i = 0; i < buf.length; i += BODY_SLICE_OCTETS) yield buf.subarray(i, i + BODY_SLICE_OCTETS);
    return;
  }
  for await (const chunk of source as AsyncIterable<Buffer | Uint8Array | string>) {
    if (typeof chunk === 'string') yield Buffer.from(chunk, 'utf8');
    else yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/**
 * Streams a DATA body: canonical CRLF, dot-stuffed, terminated by CRLF.CRLF (a CRLF added first
 * when the message does not end with one). Returns the number of message octets sent (after
 * canonicalisation and the added final CRLF, before stuffing).
 */
export async function writeDataBody(
  transport: Transport,
  source: MessageSource,
  blockTimeoutMs: number,
): Promise<number> {
  const crlf = new CrlfNormalizer();
  const stuffer = new DotStuffer();
  let octets = 0;
  let iterator: AsyncGenerator<Buffer> | undefined;
  try {
    iterator = chunksOf(source);
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await iterator.next();
      } catch (err) {
        throw new SmtpClientError('body', 'body', `reading the message failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (next.done) break;
      const canonical = crlf.push(next.value);
      octets += canonical.length;
      if (canonical.length > 0) await transport.write(stuffer.push(canonical), 'body', blockTimeoutMs);
    }
    const tail = crlf.end();
    octets += tail.length;
    const stuffedTail = stuffer.push(tail);
    const end = stuffer.end();
    // "\r\n.\r\n" means the stuffer supplied the message's missing final CRLF: count it as sent.
    if (end.length === 5) octets += 2;
    await transport.write(Buffer.concat([stuffedTail, end]), 'body', blockTimeoutMs);
    return octets;
  } finally {
    // Stops a Readable we abandoned half-way (socket died) so its file or pipe is released.
    await iterator?.return(undefined).catch(() => {});
  }
}

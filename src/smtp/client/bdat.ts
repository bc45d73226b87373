/**
 * Sending a body with BDAT (RFC 3030 CHUNKING): `BDAT <n>` then exactly n octets, no dot-stuffing,
 * the last chunk marked `LAST`. Bodies are CRLF-canonicalised like DATA bodies (we do not offer
 * BINARYMIME) and end with a CRLF, so DATA and BDAT deliver the same octets.
 *
 * Memory stays bounded: at most one chunk (BDAT_CHUNK_OCTETS plus one source chunk) is held.
 * Each chunk waits for its 250 before the next goes out (§4.2: a failed chunk must not be
 * followed by more); a refusal ends the transfer and is returned as the transaction's reply.
 */
import type { SmtpReply } from '../server/backend.js';
import { CrlfNormalizer, chunksOf, type MessageSource } from './body.js';
import { SmtpClientError } from './errors.js';
import type { Transport } from './transport.js';

/** Octets per BDAT chunk; large enough that a round trip per chunk costs little. */
export const BDAT_CHUNK_OCTETS = 1024 * 1024;

export interface BdatTimeouts {
  dataBlock: number;
  dataTermination: number;
}

export async function writeBdatBody(
  transport: Transport,
  source: MessageSource,
  timeouts: BdatTimeouts,
  chunkOctets = BDAT_CHUNK_OCTETS,
): Promise<{ octets: number; reply: SmtpReply }> {
  const crlf = new CrlfNormalizer();
  let parts: Buffer[] = [];
  let held = 0;
  let octets = 0;
  let last = -1;
  const iterator = chunksOf(source);
  const flush = async (isLast: boolean): Promise<SmtpReply> => {
    const data = Buffer.concat(parts, held);
    parts = [];
    held = 0;
    await transport.write(`BDAT ${data.length}${isLast ? ' LAST' : ''}\r\n`, 'bdat', timeouts.dataBlock);
    await transport.write(data, 'bdat', timeouts.dataBlock);
    return transport.read('bdat', isLast ? timeouts.dataTermination : timeouts.dataBlock);
  };
  try {
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
      if (canonical.length === 0) continue;
      parts.push(canonical);
      held += canonical.length;
      octets += canonical.length;
      last = canonical[canonical.length - 1]!;
      if (held >= chunkOctets) {
        const reply = await flush(false);
        if (reply.code !== 250) return { octets, reply };
      }
    }
    // Canonical output has LF only after CR, so a final LF means the message ends in CRLF.
    let tail = crlf.end();
    if (tail.length === 0 && octets > 0 && last !== 0x0a) tail = Buffer.from('\r\n', 'latin1');
    if (tail.length > 0) {
      parts.push(tail);
      held += tail.length;
      octets += tail.length;
    }
    return { octets, reply: await flush(true) };
  } finally {
    await iterator.return(undefined).catch(() => {});
  }
}

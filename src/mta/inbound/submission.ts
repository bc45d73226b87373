/**
 * Message submission fix-ups (RFC 6409 §8.2, §8.3): a submitted message without a Date or
 * Message-ID field gets one, added at the top of its header block. Nothing else is changed: the
 * header block is only looked at, and every byte passes through as received.
 *
 * Only the first MAX_SCANNED_HEADER_BYTES are examined; a header block longer than that is passed
 * on untouched (no fields added) rather than held in memory.
 */
import { formatDate, generateMessageId } from '../../mime/index.js';

export const MAX_SCANNED_HEADER_BYTES = 256 * 1024;

/** The field lines to add ('' when none), given the start of a message. */
export function missingSubmissionFields(head: Buffer, hostname: string, now = new Date()): string {
  const end = head.indexOf('\r\n\r\n');
  const block = (end < 0 ? head : head.subarray(0, end + 2)).toString('latin1');
  const names = new Set<string>();
  for (const line of block.split('\r\n')) {
    const m = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/.exec(line);
    if (m) names.add(m[1]!.toLowerCase());
  }
  let add = '';
  if (!names.has('date')) add += `Date: ${formatDate(now)}\r\n`;
  if (!names.has('message-id')) add += `Message-ID: ${generateMessageId(hostname)}\r\n`;
  return add;
}

/** Passes the body through, with missing Date/Message-ID fields first (see the module comment). */
export async function* withSubmissionFields(
  body: AsyncIterable<Buffer | Uint8Array>,
  hostname: string,
): AsyncIterable<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  let decided = false;
  for await (const raw of body) {
    const c = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    if (decided) {
      yield c;
      continue;
    }
    held.push(c);
    heldBytes += c.length;
    const head = Buffer.concat(held);
    const complete = head.indexOf('\r\n\r\n') >= 0 || head.subarray(0, 2).toString() === '\r\n';
    if (complete || heldBytes > MAX_SCANNED_HEADER_BYTES) {
      decided = true;
      const add = complete ? missingSubmissionFields(head, hostname) : '';
      if (add) yield Buffer.from(add, 'latin1');
      yield head;
      held = [];
    }
  }
  if (!decided && heldBytes > 0) {
    // A message that is all header (no empty line): still a message; add what is missing.
    const head = Buffer.concat(held);
    const add = missingSubmissionFields(head, hostname);
    if (add) yield Buffer.from(add, 'latin1');
    yield head;
  }
}

/**
 * RFC 5321 §6.3: a message that has passed too many relays is looping (forwarding makes loops
 * possible: an alias here forwarding to an alias there forwarding back). Postfix's
 * hopcount_limit is 50; so is ours. Counts `Received:` fields in the header block, looking at no
 * more than MAX_SCANNED_HEADER_BYTES.
 */
export const MAX_HOPS = 50;

export class HopCounter {
  private head: Buffer = Buffer.alloc(0);
  private done = false;
  hops = 0;

  push(chunk: Uint8Array): void {
    if (this.done) return;
    // The header block usually ends in the first chunk: it is read where it is, not copied.
    const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const head = this.head.length === 0 ? view : Buffer.concat([this.head, view]);
    const end = head.indexOf('\r\n\r\n');
    if (end >= 0 || head.length > MAX_SCANNED_HEADER_BYTES) {
      this.done = true;
      const block = head.subarray(0, end >= 0 ? end + 2 : head.length).toString('latin1');
      this.hops = (block.match(/(^|\r\n)Received[ \t]*:/gi) ?? []).length;
      this.head = Buffer.alloc(0);
      return;
    }
    // Kept for the next chunk: a copy, since the caller may reuse its buffer.
    this.head = head === view ? Buffer.from(view) : head;
  }
}

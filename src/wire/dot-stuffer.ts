/**
 * Dot-stuffing for the sending side of SMTP DATA (RFC 5321 §4.5.2) and of POP3 multi-line
 * responses (RFC 1939 §3): a sans-I/O encoder. Push message bytes, write out what comes back,
 * then write `end()`, which terminates the data with CRLF.CRLF (completing or adding a CRLF first
 * when the message did not end with one).
 *
 * A "." is doubled at the start of every line. Lines start after LF (bare or not), so a message
 * with bare LFs can never produce a terminator the receiver would honour early. The encoder does
 * not repair bare CR/LF inside the message: callers that must send canonical CRLF text convert
 * before encoding. No state depends on where chunks split, so a 25 MB message streams in constant
 * memory; the search for "\n." is native, so a chunk without dot-lines passes through untouched.
 */

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const LF_DOT = Buffer.from('\n.', 'latin1');
const DOT_ONLY = Buffer.from('.', 'latin1');
const TERMINATOR = Buffer.from('.\r\n', 'latin1');
const CRLF_TERMINATOR = Buffer.from('\r\n.\r\n', 'latin1');
const LF_TERMINATOR = Buffer.from('\n.\r\n', 'latin1');

export class DotStuffer {
  private last = -1;
  private prev = -1;

  /** Returns the stuffed bytes for `chunk` (the chunk itself when nothing needed doubling). */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    let parts: Buffer[] | undefined;
    let from = 0;
    // A line that started in an earlier chunk (or the message start).
    if ((this.last === -1 || this.last === LF) && chunk[0] === DOT) parts = [DOT_ONLY];
    let i = chunk.indexOf(LF_DOT);
    while (i >= 0) {
      parts ??= [];
      parts.push(chunk.subarray(from, i + 1), DOT_ONLY);
      from = i + 1;
      i = chunk.indexOf(LF_DOT, i + 1);
    }
    this.prev = chunk.length > 1 ? chunk[chunk.length - 2]! : this.last;
    this.last = chunk[chunk.length - 1]!;
    if (!parts) return chunk;
    parts.push(chunk.subarray(from));
    return Buffer.concat(parts);
  }

  /** The end of the data: a CRLF if the last line lacked one (a final CR is completed), then `.CRLF`. */
  end(): Buffer {
    if (this.last === -1) return TERMINATOR;
    if (this.last === LF) return this.prev === CR ? TERMINATOR : CRLF_TERMINATOR;
    if (this.last === CR) return LF_TERMINATOR;
    return CRLF_TERMINATOR;
  }
}

/** Dot-stuffs and terminates a whole message held in memory (small messages, tests). */
export function dotStuff(message: Buffer): Buffer {
  const s = new DotStuffer();
  return Buffer.concat([s.push(message), s.end()]);
}

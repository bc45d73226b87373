/**
 * The sending side of SMTP DATA (RFC 5321 §4.5.2): a sans-I/O dot-stuffing encoder. Push message
 * bytes, write out what comes back, then write `end()`, which terminates the data with CRLF.CRLF
 * (adding a CRLF first when the message did not end with one).
 *
 * A "." is doubled at the start of every line. Lines start after LF (bare or not), so a message
 * with bare LFs can never produce a terminator the receiver would honour early. The encoder does
 * not repair bare CR/LF: callers that must send canonical CRLF text convert before encoding.
 */

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

export class DotStuffer {
  private atLineStart = true;
  private prev = -1;
  private prev2 = -1;

  /** Returns the stuffed bytes for `chunk` (the chunk itself when nothing needed doubling). */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const parts: Buffer[] = [];
    let start = 0;
    let atLineStart = this.atLineStart;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (atLineStart && b === DOT) {
        parts.push(chunk.subarray(start, i + 1));
        start = i;
      }
      atLineStart = b === LF;
    }
    this.atLineStart = atLineStart;
    const last = chunk.length;
    this.prev2 = last >= 2 ? chunk[last - 2]! : this.prev;
    this.prev = chunk[last - 1]!;
    if (parts.length === 0) return chunk;
    parts.push(chunk.subarray(start));
    return Buffer.concat(parts);
  }

  /** The terminator: ".\r\n" after a final CRLF, else "\r\n.\r\n". */
  end(): Buffer {
    const endsWithCrlf = this.prev === LF && this.prev2 === CR;
    return Buffer.from(endsWithCrlf || this.prev === -1 ? '.\r\n' : '\r\n.\r\n', 'latin1');
  }
}

/** Dot-stuffs and terminates a whole message held in memory (small messages, tests). */
export function dotStuff(message: Buffer): Buffer {
  const s = new DotStuffer();
  return Buffer.concat([s.push(message), s.end()]);
}

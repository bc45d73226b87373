/**
 * Test messages for the benchmarks: plain RFC 5322 text, CRLF line ends, lines of 78 octets, no
 * line starting with "." (so no dot-stuffing differences between systems), of about `size`
 * octets each, every one distinct (its number is in the Subject, Message-ID and body lines).
 */

const LINE = 76;

/** Message `i` of about `size` octets (never less), with CRLF line ends. */
export function makeMessage(i: number, size: number, to = 'u@bench.test'): Buffer {
  const head =
    `From: Bench Sender <a@bench.test>\r\n` +
    `To: <${to}>\r\n` +
    `Subject: bench message ${i}\r\n` +
    `Date: Thu, 26 Nov 2026 00:00:00 +0000\r\n` +
    `Message-ID: <bench-${i}-${size}@bench.test>\r\n` +
    `MIME-Version: 1.0\r\n` +
    `Content-Type: text/plain; charset=us-ascii\r\n\r\n`;
  const lines = Math.max(1, Math.ceil((size - head.length) / (LINE + 2)));
  const out = Buffer.allocUnsafe(head.length + lines * (LINE + 2));
  let off = out.write(head, 'latin1');
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ';
  for (let l = 0; l < lines; l++) {
    const tag = `${i}:${l} `;
    off += out.write(tag, off, 'latin1');
    for (let c = tag.length; c < LINE; c++)
      out[off++] = alphabet.charCodeAt((i * 7 + l * 13 + c) % alphabet.length);
    out[off++] = 13;
    out[off++] = 10;
  }
  return out;
}

/** The same message with LF line ends, as Maildir files are kept on Unix. */
export function toLf(crlf: Buffer): Buffer {
  const out = Buffer.allocUnsafe(crlf.length);
  let n = 0;
  for (let i = 0; i < crlf.length; i++) {
    if (crlf[i] === 13 && crlf[i + 1] === 10) continue;
    out[n++] = crlf[i]!;
  }
  return out.subarray(0, n);
}

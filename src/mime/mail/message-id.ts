/**
 * Message identifiers (RFC 5322 §3.6.4): generating `<unique@domain>` ids and reading the
 * msg-id lists of Message-ID, In-Reply-To and References.
 *
 * Reading is lenient: comments and whitespace (including folds inside an id, which long ids get
 * from broken folders) are dropped, and bare `local@domain` words without brackets (seen from
 * old clients) are accepted and given brackets. Words without "@" outside brackets are ignored
 * (§4.5.4 obs-phrase in In-Reply-To). Never throws.
 */
import { randomBytes } from 'node:crypto';

/** `<time.random@domain>`: 96 random bits make collisions impossible in practice (§3.6.4). */
export function generateMessageId(domain: string): string {
  const rnd = randomBytes(12).toString('base64url');
  return '<' + Date.now().toString(36) + '.' + rnd + '@' + domain + '>';
}

/** Every msg-id in the value, in order, each with its angle brackets. */
export function parseMessageIds(value: string): string[] {
  const out: string[] = [];
  const s = value;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 0x3c /* < */) {
      const close = s.indexOf('>', i + 1);
      const end = close < 0 ? s.length : close;
      const id = s.slice(i + 1, end).replace(/[\s]+/g, '');
      if (id !== '') out.push('<' + id + '>');
      i = end + 1;
    } else if (c === 0x28 /* ( */) {
      let depth = 0;
      for (; i < s.length; i++) {
        const d = s.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x28) depth++;
        else if (d === 0x29 && --depth === 0) break;
      }
      i++;
    } else if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a || c === 0x2c) {
      i++;
    } else {
      let j = i;
      while (j < s.length && !/[\s<(,]/.test(s[j]!)) j++;
      const word = s.slice(i, j);
      if (word.includes('@') && !word.startsWith('"')) out.push('<' + word + '>');
      i = j;
    }
  }
  return out;
}

/** The first msg-id of a Message-ID value, or undefined. */
export function parseMessageId(value: string): string | undefined {
  return parseMessageIds(value)[0];
}

/**
 * xtext (RFC 3461 §4): the encoding of DSN parameters ENVID and ORCPT, and of AUTH= (RFC 4954
 * §5). Octets "!" through "~" except "+" and "=" stand for themselves; anything else is "+HH"
 * with two upper-case hex digits.
 *
 * Failure semantics: `decodeXtext` returns undefined for input that is not xtext (a "+" not
 * followed by two hex digits, or a character outside the allowed range) instead of guessing.
 * Lower-case hex digits are accepted (lenient); the encoder writes upper case.
 */

/** Encodes a string (as UTF-8 octets) to xtext. */
export function encodeXtext(value: string): string {
  let out = '';
  for (const b of Buffer.from(value, 'utf8')) {
    if (b >= 0x21 && b <= 0x7e && b !== 0x2b && b !== 0x3d) out += String.fromCharCode(b);
    else out += `+${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Decodes xtext to a string (octets read as UTF-8), or undefined when it is not valid xtext. */
export function decodeXtext(text: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2b) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (c >= 0x21 && c <= 0x7e && c !== 0x3d) {
      bytes.push(c);
    } else if (c > 0x7f) {
      // RFC 6533 (utf-8-xtext) lets SMTPUTF8 clients send UTF-8 as is.
      const ch = String.fromCodePoint(text.codePointAt(i)!);
      for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
      i += ch.length - 1;
    } else {
      return undefined;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

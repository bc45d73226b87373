/**
 * POP3 command lines (RFC 1939 §3, RFC 2449 §4): a case-insensitive keyword, then arguments
 * separated by single spaces. Sans-I/O: takes one line (CRLF already removed) and returns a value.
 *
 * Leniency, written down: several spaces between arguments are accepted; the keyword is matched
 * case-insensitively; arguments keep their case. `rest` keeps the raw text after the keyword
 * because PASS passwords may contain spaces (RFC 1939 §7, "the password may contain spaces").
 */

/** RFC 2449 §4: a command line is at most 255 octets including the CRLF. */
export const POP3_MAX_COMMAND_OCTETS = 255;
/** RFC 2449 §4: a response line is at most 512 octets including the CRLF. */
export const POP3_MAX_RESPONSE_OCTETS = 512;
/** RFC 1939 §3: keywords are three or four characters; RFC 2449 allows up to four. */
export const POP3_MAX_KEYWORD_LENGTH = 4;

export interface Pop3Command {
  /** Upper-cased keyword, e.g. 'RETR'. */
  keyword: string;
  /** Space-separated arguments (empty strings from repeated spaces dropped). */
  args: string[];
  /** Everything after the keyword and its single separating space, verbatim. */
  rest: string;
}

/** Parses one command line; undefined for an empty or non-printable keyword. */
export function parseCommand(line: string): Pop3Command | undefined {
  const sp = line.indexOf(' ');
  const word = sp < 0 ? line : line.slice(0, sp);
  if (word.length === 0 || word.length > POP3_MAX_KEYWORD_LENGTH || !/^[\x21-\x7e]+$/.test(word)) {
    return undefined;
  }
  const rest = sp < 0 ? '' : line.slice(sp + 1);
  return { keyword: word.toUpperCase(), args: rest.split(' ').filter((a) => a !== ''), rest };
}

/** A message-number argument (RFC 1939: a decimal number, messages numbered from 1). */
export function parseMessageNumber(arg: string | undefined): number | undefined {
  if (arg === undefined || !/^\d{1,9}$/.test(arg)) return undefined;
  const n = Number(arg);
  return n >= 1 ? n : undefined;
}

/** A non-negative decimal argument (TOP's line count). */
export function parseCount(arg: string | undefined): number | undefined {
  if (arg === undefined || !/^\d{1,9}$/.test(arg)) return undefined;
  return Number(arg);
}

/** Formats a client command line; refuses CR/LF/NUL so no value can inject a second command. */
export function formatCommand(keyword: string, ...args: string[]): string {
  const line = [keyword, ...args].join(' ');
  if (/[\r\n\0]/.test(line)) throw new TypeError('POP3 command arguments cannot contain CR, LF or NUL');
  return `${line}\r\n`;
}

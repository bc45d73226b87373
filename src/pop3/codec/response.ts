/**
 * POP3 responses (RFC 1939 §3, RFC 2449 §8 response codes): `+OK text`, `-ERR [CODE] text`,
 * multi-line bodies with byte-stuffing ending in CRLF.CRLF, and `+ ` SASL continuations
 * (RFC 5034). Sans-I/O: formatting returns strings, parsing takes one line.
 */

/** RFC 2449 §8 and RFC 3206 response codes this server uses. */
export const RESP_CODES = {
  inUse: 'IN-USE',
  loginDelay: 'LOGIN-DELAY',
  auth: 'AUTH',
  sysTemp: 'SYS/TEMP',
  sysPerm: 'SYS/PERM',
} as const;

function clean(text: string): string {
  // A response text can never carry a line break: it would forge a second response.
  return text.replace(/[\r\n]+/g, ' ');
}

export function formatOk(text = ''): string {
  return text ? `+OK ${clean(text)}\r\n` : '+OK\r\n';
}

export function formatErr(text: string, code?: string): string {
  return code ? `-ERR [${code}] ${clean(text)}\r\n` : `-ERR ${clean(text)}\r\n`;
}

/** SASL continuation (RFC 5034 §4): `+ ` followed by base64 (possibly empty). */
export function formatContinuation(base64: string): string {
  return `+ ${base64}\r\n`;
}

/** Byte-stuffs one line of a multi-line response (RFC 1939 §3). */
export function stuffLine(line: string): string {
  return line.startsWith('.') ? `.${line}` : line;
}

/** A whole multi-line response from short lines (CAPA, LIST, UIDL); bodies use DotStuffer. */
export function formatMultiline(first: string, lines: readonly string[]): string {
  let out = formatOk(first);
  for (const l of lines) out += `${stuffLine(clean(l))}\r\n`;
  return `${out}.\r\n`;
}

export interface Pop3Response {
  ok: boolean;
  /** Response code from `[CODE]` (RFC 2449 §8), if any. */
  code?: string;
  text: string;
}

/** Parses a status line; undefined when it is neither +OK nor -ERR. */
export function parseResponse(line: string): Pop3Response | undefined {
  let ok: boolean;
  let rest: string;
  if (/^\+OK(\s|$)/i.test(line)) {
    ok = true;
    rest = line.slice(3).trimStart();
  } else if (/^-ERR(\s|$)/i.test(line)) {
    ok = false;
    rest = line.slice(4).trimStart();
  } else {
    return undefined;
  }
  const m = /^\[([^\]\s]+)\]\s*/.exec(rest);
  return m ? { ok, code: m[1]!.toUpperCase(), text: rest.slice(m[0].length) } : { ok, text: rest };
}

/**
 * The fixed replies and the EHLO capability list of the server, in one place so their codes and
 * enhanced codes (RFC 3463) can be read together.
 */
import type { SmtpReply } from './backend.js';

export function r(code: number, enhanced: string | undefined, text: string | string[]): SmtpReply {
  return enhanced === undefined ? { code, text } : { code, enhanced, text };
}

export const HELP_TEXT = [
  'Commands: HELO EHLO MAIL RCPT DATA BDAT RSET VRFY EXPN NOOP HELP QUIT STARTTLS AUTH',
  'See RFC 5321',
];

export const TOO_BIG = r(552, '5.3.4', 'Error: message size exceeds fixed maximum message size');
export const INTERNAL_ERROR = r(451, '4.3.0', 'Error: internal error, try again later');
export const BARE_LINE_END = r(554, '5.6.0', 'Error: bare CR or LF in message; lines must end with CRLF');
export const NUL_IN_MESSAGE = r(554, '5.6.0', 'Error: NUL octet in message');

export interface CapabilityState {
  maxMessageSize: number;
  binaryMime: boolean;
  /** TLS configured and not yet active. */
  startTls: boolean;
  auth: boolean;
}

/** EHLO keywords, in the order we advertise them. */
export function capabilities(s: CapabilityState): string[] {
  const caps = [
    'PIPELINING',
    `SIZE ${s.maxMessageSize}`,
    '8BITMIME',
    'SMTPUTF8',
    'ENHANCEDSTATUSCODES',
    'CHUNKING',
  ];
  if (s.binaryMime) caps.push('BINARYMIME');
  caps.push('DSN');
  if (s.startTls) caps.push('STARTTLS');
  if (s.auth) caps.push('AUTH PLAIN LOGIN');
  caps.push('HELP');
  return caps;
}

/**
 * SMTP limits and timeouts from RFC 5321 §4.5.3, named so every layer uses the same numbers and
 * can override them.
 */

/** §4.5.3.1.4: a command line is at most 512 octets including CRLF. */
export const MAX_COMMAND_LINE_OCTETS = 512;
/** §4.5.3.1.6: a text line is at most 1000 octets including CRLF (defined with the DATA decoder). */
export { MAX_TEXT_LINE_OCTETS } from '../../wire/index.js';
/** §4.5.3.1.5: a reply line is at most 512 octets including CRLF. */
export const MAX_REPLY_LINE_OCTETS = 512;
/** §4.5.3.1.1: local part at most 64 octets. */
export const MAX_LOCAL_PART_OCTETS = 64;
/** §4.5.3.1.2: domain at most 255 octets. */
export const MAX_DOMAIN_OCTETS = 255;
/** §4.5.3.1.3: a path (with its angle brackets) at most 256 octets. */
export const MAX_PATH_OCTETS = 256;
/** §4.5.3.1.8 requires at least 100 recipients per transaction; we accept exactly that by default. */
export const DEFAULT_MAX_RECIPIENTS = 100;
/** RFC 1870 SIZE default of this server: 25 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 25 * 1024 * 1024;
/** RFC 3461 §4.4: ENVID at most 100 characters. */
export const MAX_ENVID_CHARS = 100;

const MIN = 60_000;
/** §4.5.3.2: the timeouts, in milliseconds. The first six are the client's; `server` is ours. */
export const SMTP_TIMEOUTS = {
  /** §4.5.3.2.1 waiting for the 220 greeting. */
  initial: 5 * MIN,
  /** §4.5.3.2.2 MAIL reply. */
  mail: 5 * MIN,
  /** §4.5.3.2.3 RCPT reply. */
  rcpt: 5 * MIN,
  /** §4.5.3.2.4 DATA initiation (354). */
  dataInit: 2 * MIN,
  /** §4.5.3.2.5 each data block (TCP SEND). */
  dataBlock: 3 * MIN,
  /** §4.5.3.2.6 the reply to the final "." (the server's commit time). */
  dataTermination: 10 * MIN,
  /** §4.5.3.2.7 the server waits at least 5 minutes for the next command. */
  server: 5 * MIN,
} as const;

/**
 * Errors of the SMTP client, classified the way a delivery queue needs them (RFC 5321 §4.2.1,
 * §4.5.4.1): `temporary` failures (4xx replies, network errors, timeouts, TLS refused by policy)
 * are retried later; `permanent` ones (5xx replies, a message the server can never take, values
 * that cannot go on the wire) fail the recipient and become a DSN. The server's reply, when there
 * was one, is kept verbatim for the DSN's Diagnostic-Code (RFC 3464 §2.3.6).
 */
import type { SmtpReply } from '../server/backend.js';

/** Why the client gave up. */
export type SmtpClientErrorCode =
  /** The server answered with a reply the step cannot go on with (see `reply`). */
  | 'reply'
  /** TCP connect failed, or the connection was reset or closed. */
  | 'network'
  /** A §4.5.3.2 timeout expired. */
  | 'timeout'
  /** STARTTLS required but not offered or refused, or the TLS handshake failed. */
  | 'tls'
  /** AUTH refused (535), or no common mechanism, or AUTH over an unprotected connection. */
  | 'auth'
  /** The message is larger than the server's SIZE limit (RFC 1870 §6). */
  | 'size'
  /** An 8-bit body and no 8BITMIME (RFC 6152): the caller must convert it to 7bit first. */
  | 'needs7bit'
  /** The message needs SMTPUTF8 (RFC 6531) and the server does not offer it. */
  | 'smtputf8'
  /** A value that cannot be put on a command line (CR, LF, NUL, bad syntax): nothing was sent. */
  | 'invalid'
  /** The server broke the protocol (malformed reply, data after the STARTTLS reply). */
  | 'protocol'
  /** Reading the message body failed; the connection was dropped so nothing partial is delivered. */
  | 'body';

/** The command or phase during which the error happened. */
export type SmtpClientStage =
  | 'connect'
  | 'greeting'
  | 'ehlo'
  | 'helo'
  | 'starttls'
  | 'auth'
  | 'mail'
  | 'rcpt'
  | 'data'
  | 'bdat'
  | 'body'
  | 'rset'
  | 'noop'
  | 'quit';

export interface SmtpClientErrorOptions {
  /** Overrides the class derived from the code/reply. */
  temporary?: boolean;
  reply?: SmtpReply;
  cause?: unknown;
  /** For 'size': the server's advertised limit in octets. */
  limit?: number;
}

export class SmtpClientError extends Error {
  readonly code: SmtpClientErrorCode;
  readonly stage: SmtpClientStage;
  /** True for failures worth retrying later (4xx, network, timeout, TLS); false for 5xx and local refusals. */
  readonly temporary: boolean;
  /** The server's reply, when one caused the error. */
  readonly reply?: SmtpReply;
  /** For code 'size': the server's SIZE limit. */
  readonly limit?: number;

  constructor(
    code: SmtpClientErrorCode,
    stage: SmtpClientStage,
    message: string,
    opts: SmtpClientErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SmtpClientError';
    this.code = code;
    this.stage = stage;
    if (opts.reply) this.reply = opts.reply;
    if (opts.limit !== undefined) this.limit = opts.limit;
    this.temporary = opts.temporary ?? defaultTemporary(code, opts.reply);
  }

  get permanent(): boolean {
    return !this.temporary;
  }

  /** Builds the error for an unexpected reply: 4xx temporary, 5xx permanent. */
  static fromReply(
    stage: SmtpClientStage,
    reply: SmtpReply,
    code: SmtpClientErrorCode = 'reply',
  ): SmtpClientError {
    return new SmtpClientError(code, stage, `${stage.toUpperCase()} refused: ${replyText(reply)}`, { reply });
  }
}

function defaultTemporary(code: SmtpClientErrorCode, reply?: SmtpReply): boolean {
  if (reply) return reply.code < 500;
  return code === 'network' || code === 'timeout' || code === 'tls' || code === 'protocol' || code === 'body';
}

/** `550 5.1.1 text`, lines joined by a space: the form errors and logs show. */
export function replyText(reply: SmtpReply): string {
  const text = Array.isArray(reply.text) ? reply.text.join(' ') : reply.text;
  return `${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''}${text ? ` ${text}` : ''}`;
}

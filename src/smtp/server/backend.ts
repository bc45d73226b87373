/**
 * The whole contract between the SMTP server and whatever stands behind it (the go-smtp idea).
 * The server owns the protocol: parsing, state, replies, limits, DATA/BDAT decoding, TLS. The
 * backend owns policy and storage and answers with SmtpError to refuse.
 */
import type { Readable } from 'node:stream';
import type { ConnInfo } from '../../core/index.js';

/** A reply on the wire: `code enhanced text`, several lines when `text` is an array. */
export interface SmtpReply {
  code: number;
  /** RFC 3463 enhanced status code, e.g. '2.1.0'; omitted for 220/221 greetings. */
  enhanced?: string;
  text: string | string[];
}

/** A refusal with the reply the client will see; the internal reason goes to the log only. */
export class SmtpError extends Error {
  readonly reply: SmtpReply;
  constructor(
    code: number,
    enhanced: string | undefined,
    text: string | string[],
    readonly reason?: string,
  ) {
    super(Array.isArray(text) ? text.join(' ') : text);
    this.name = 'SmtpError';
    this.reply = enhanced === undefined ? { code, text } : { code, enhanced, text };
  }
}

/** ESMTP parameters of MAIL FROM, each named for the parameter it carries. */
export interface MailOptions {
  /** SIZE= (RFC 1870), as declared by the client. */
  size?: number;
  /** BODY= (RFC 6152, RFC 3030). */
  body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  /** SMTPUTF8 (RFC 6531). */
  smtputf8?: boolean;
  /** RET= (RFC 3461). */
  ret?: 'FULL' | 'HDRS';
  /** ENVID= (RFC 3461), xtext-decoded. */
  envid?: string;
  /** AUTH= (RFC 4954), xtext-decoded, '<>' kept as is. */
  auth?: string;
  /** Every parameter as received (upper-cased keys), for the record. */
  raw: Record<string, string>;
}

/** ESMTP parameters of RCPT TO. */
export interface RcptOptions {
  /** NOTIFY= (RFC 3461). */
  notify?: Array<'SUCCESS' | 'FAILURE' | 'DELAY' | 'NEVER'>;
  /** ORCPT= (RFC 3461): address type and xtext-decoded address. */
  orcpt?: { type: string; address: string };
  raw: Record<string, string>;
}

/** Outcome of a successful DATA/BDAT; the server replies 250 with it (or a default text). */
export interface DataResult {
  /** e.g. the queue/message id, shown as `250 2.0.0 OK <text>`. */
  text?: string;
}

export interface Session {
  /** MAIL FROM. `from` is the path without brackets; '' is the null reverse-path. */
  mail(from: string, opts: MailOptions): Promise<void>;
  /** RCPT TO. `to` is the path without brackets (source routes already dropped). */
  rcpt(to: string, opts: RcptOptions): Promise<void>;
  /**
   * The message body, dot-unstuffed (DATA) or concatenated chunks (BDAT). `body` must be consumed
   * (or destroyed) before the promise settles. Resolve only once the message is durable.
   * If the server aborts the body (size limit, bare LF, connection lost) the stream errors and
   * the backend must leave nothing behind.
   */
  data(body: Readable): Promise<DataResult | undefined>;
  /** RSET, a new MAIL after a finished transaction, EHLO/HELO again, or STARTTLS. */
  reset(): Promise<void> | void;
  /** Connection closed (QUIT or not); no more calls follow. */
  logout(): Promise<void> | void;
}

/** Optional: AUTH (RFC 4954). Resolves to the authenticated identity or undefined when refused. */
export interface AuthBackend {
  authenticate(username: string, password: string, conn: ConnInfo): Promise<string | undefined>;
}

export interface Backend {
  /** A new connection; throw SmtpError (e.g. 554) to refuse it at the greeting. */
  newSession(conn: ConnInfo): Promise<Session> | Session;
  /** Optional VRFY answer; default 252. */
  vrfy?(arg: string, conn: ConnInfo): Promise<SmtpReply>;
  auth?: AuthBackend;
}

/**
 * The options, envelope and results of the SMTP client (client.ts), with the RFC each field comes
 * from. Timeouts default to RFC 5321 §4.5.3.2.
 */
import type { Logger } from '../../core/index.js';
import { SMTP_TIMEOUTS } from '../codec/limits.js';
import type { SmtpReply } from '../server/backend.js';
import type { NotifyValue } from './commands.js';

/** RFC 5321 §4.5.3.2 timeouts (ms), plus two the RFC leaves open. */
export interface SmtpClientTimeouts {
  /** TCP connect and implicit-TLS handshake. Not in the RFC; 30 s like Postfix's smtp_connect_timeout. */
  connect: number;
  /** §4.5.3.2.1 the 220 greeting. */
  initial: number;
  /** §4.5.3.2.2 */
  mail: number;
  /** §4.5.3.2.3 */
  rcpt: number;
  /** §4.5.3.2.4 the 354 to DATA. */
  dataInit: number;
  /** §4.5.3.2.5 each data block written (the socket must drain within it); also each BDAT reply. */
  dataBlock: number;
  /** §4.5.3.2.6 the reply to the final "." or BDAT LAST. */
  dataTermination: number;
  /** EHLO, STARTTLS (and its handshake), AUTH, RSET, NOOP, QUIT: 5 minutes like MAIL. */
  command: number;
}

export const DEFAULT_CLIENT_TIMEOUTS: SmtpClientTimeouts = {
  connect: 30_000,
  initial: SMTP_TIMEOUTS.initial,
  mail: SMTP_TIMEOUTS.mail,
  rcpt: SMTP_TIMEOUTS.rcpt,
  dataInit: SMTP_TIMEOUTS.dataInit,
  dataBlock: SMTP_TIMEOUTS.dataBlock,
  dataTermination: SMTP_TIMEOUTS.dataTermination,
  command: SMTP_TIMEOUTS.mail,
};

/**
 * 'none': plain text. 'starttls': opportunistic (RFC 3207 / RFC 7435), use it when offered and go
 * on in plain text when not. 'starttls-required': fail (temporary, 'tls') when not offered or
 * refused. 'implicit': TLS from the first byte (RFC 8314, port 465).
 */
export type SmtpTlsMode = 'none' | 'starttls' | 'starttls-required' | 'implicit';

export interface SmtpClientOptions {
  host: string;
  port: number;
  /** Default 'starttls' (opportunistic). */
  tls?: SmtpTlsMode;
  /** SNI and the name the certificate is checked against; default `host` unless it is an IP. */
  servername?: string;
  /**
   * Refuse a certificate that does not verify (chain and name). Default: false for 'starttls'
   * (opportunistic, RFC 7435: encrypt, do not authenticate; see `tlsAuthorized`), true for
   * 'starttls-required' and 'implicit'.
   */
  rejectUnauthorized?: boolean;
  /** Trusted CA certificates (PEM) instead of the system store. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** The EHLO/HELO argument: our FQDN or an address literal. Default 'localhost'. */
  localName?: string;
  timeouts?: Partial<SmtpClientTimeouts>;
  logger?: Logger;
  /** Local address to bind (the MTA's outbound IP). */
  localAddress?: string;
  /** Use PIPELINING when offered. Default true. */
  pipelining?: boolean;
  /** Use BDAT (CHUNKING) instead of DATA when offered. Default true. */
  chunking?: boolean;
}

export interface AuthOptions {
  username: string;
  password: string;
  /** Default: PLAIN when offered, else LOGIN. */
  mechanism?: 'PLAIN' | 'LOGIN';
  /** PLAIN authorization identity. */
  authzid?: string;
  /** Allow a password over an unencrypted, non-loopback connection. Default false. */
  allowInsecure?: boolean;
}

export interface RecipientSpec {
  address: string;
  /** NOTIFY= (RFC 3461), sent only when the server offers DSN. */
  notify?: NotifyValue[];
  /** ORCPT= (RFC 3461); a string means type rfc822. Sent only when the server offers DSN. */
  orcpt?: string | { type?: string; address: string };
}

export interface Envelope {
  /** Reverse-path without brackets; '' for the null sender `<>`. */
  from: string;
  /** All recipients of one transaction (one destination domain). */
  recipients: Array<string | RecipientSpec>;
  /**
   * Message size in octets: declared with SIZE= and checked against the server's limit. Default:
   * the length of an in-memory body; unknown for streams.
   */
  size?: number;
  /**
   * The body has octets above 127: needs 8BITMIME (BODY=8BITMIME). Default: detected for an
   * in-memory body; false for streams (declare it, or a 7-bit-only server gets 8-bit octets).
   */
  body8bit?: boolean;
  /** The message needs SMTPUTF8 (UTF-8 headers); implied by a non-ASCII address. */
  smtputf8?: boolean;
  /** RET= (RFC 3461), when the server offers DSN. */
  ret?: 'FULL' | 'HDRS';
  /** ENVID= (RFC 3461), when the server offers DSN. */
  envid?: string;
}

export interface RecipientResult {
  address: string;
  code: number;
  enhanced?: string;
  /** The reply text, lines joined by a space. */
  text: string;
  /** The RCPT got a 2xx. */
  accepted: boolean;
  reply: SmtpReply;
}

export interface SendResult {
  /** The 250 to MAIL (a refused MAIL rejects the promise instead). */
  mail: SmtpReply;
  /** One entry per recipient, in the order given. */
  recipients: RecipientResult[];
  /**
   * The reply that ended the transaction: the final reply after the body, or the refusal of
   * DATA/a BDAT chunk. Undefined when no recipient was accepted (nothing was sent).
   */
  data?: SmtpReply;
  /** True when `data` is 2xx: the server took responsibility for every accepted recipient. */
  ok: boolean;
  /** Addresses the server took responsibility for. */
  delivered: string[];
  /** Message octets sent (after CRLF canonicalisation, before dot-stuffing). */
  octets: number;
  pipelined: boolean;
  chunked: boolean;
}

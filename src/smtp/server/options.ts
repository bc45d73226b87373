/**
 * Options of the SMTP server and their defaults. Every limit is named, cites its RFC and can be
 * overridden; the defaults are the RFC values (RFC 5321 §4.5.3) or this server's safe choice.
 */
import type { SecureContext } from 'node:tls';
import type { Logger, TraceObserver } from '../../core/index.js';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_RECIPIENTS,
  MAX_COMMAND_LINE_OCTETS,
  MAX_TEXT_LINE_OCTETS,
  SMTP_TIMEOUTS,
} from '../codec/index.js';
import type { Backend } from './backend.js';

export interface SmtpLimits {
  /** RFC 1870 SIZE, octets of message content (after dot-unstuffing). Default 25 MiB. */
  maxMessageSize: number;
  /** Recipients per transaction (RFC 5321 §4.5.3.1.8). Default 100; more get 452 4.5.3. */
  maxRecipients: number;
  /** Text line in DATA, octets with CRLF (RFC 5321 §4.5.3.1.6). Default 1000. */
  maxLineLength: number;
  /** Command line, octets with CRLF (RFC 5321 §4.5.3.1.4). Default 512. */
  maxCommandLength: number;
  /** Simultaneous connections on this listener. Default 10,000. */
  maxConnections: number;
  /** Simultaneous connections from one client IP. Default 100. */
  maxConnectionsPerIp: number;
  /** Error replies (4xx/5xx) in one session before 421 4.7.0 and close. Default 10. */
  maxErrors: number;
  /** Waiting for a command, ms (RFC 5321 §4.5.3.2.7: at least 5 min). */
  idleTimeout: number;
  /** Waiting for the next block of DATA/BDAT content, ms (RFC 5321 §4.5.3.2.5: 3 min). */
  dataBlockTimeout: number;
  /** TLS handshake (implicit TLS or after STARTTLS), ms. Default 30 s. */
  tlsHandshakeTimeout: number;
  /** close(): how long open transactions may run before 421 and a forced close, ms. Default 30 s. */
  closeTimeout: number;
}

export const DEFAULT_SMTP_LIMITS: Readonly<SmtpLimits> = {
  maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
  maxRecipients: DEFAULT_MAX_RECIPIENTS,
  maxLineLength: MAX_TEXT_LINE_OCTETS,
  maxCommandLength: MAX_COMMAND_LINE_OCTETS,
  maxConnections: 10_000,
  maxConnectionsPerIp: 100,
  maxErrors: 10,
  idleTimeout: SMTP_TIMEOUTS.server,
  dataBlockTimeout: SMTP_TIMEOUTS.dataBlock,
  tlsHandshakeTimeout: 30_000,
  closeTimeout: 30_000,
};

export interface SmtpTlsOptions {
  /** PEM key and certificate; STARTTLS is offered when set. */
  key?: string | Buffer;
  cert?: string | Buffer;
  /** Or a ready context (replaced later with `setTlsContext`). */
  secureContext?: SecureContext;
}

export interface SmtpServerOptions {
  /** Name in the greeting, EHLO reply and 221/421. */
  hostname: string;
  backend: Backend;
  logger?: Logger;
  /** Listener name recorded in ConnInfo and logs. Default 'smtp'. */
  listener?: 'smtp' | 'submission' | 'smtps' | (string & {});
  tls?: SmtpTlsOptions;
  /** TLS from the first byte (RFC 8314, port 465); needs `tls`. */
  implicitTls?: boolean;
  limits?: Partial<SmtpLimits>;
  /** MAIL before AUTH → 530 5.7.0 (submission, RFC 6409 §4.3). */
  requireAuth?: boolean;
  /**
   * AUTH without TLS: 'loopback' (default) allows it only for loopback clients (the textbook demo),
   * true always, false never. Where not allowed, AUTH is not advertised and answers 538 5.7.11.
   */
  authAllowedPlain?: 'loopback' | boolean;
  /** Advertise BINARYMIME (RFC 3030). Default true. */
  binaryMime?: boolean;
  /** Hears every session's lines, secrets masked (core/trace.ts); unset costs nothing. */
  onTrace?: TraceObserver;
}

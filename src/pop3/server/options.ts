/**
 * Pop3Server options and their defaults. Every limit is named, cites where it comes from, and can
 * be overridden.
 */
import type { ConnInfo, Logger, TraceObserver } from '../../core/index.js';
import type { Pop3Backend } from './backend.js';
import type { LoginDelayOptions, LoginDelayPolicy } from './login-delay.js';

export interface Pop3Limits {
  /**
   * Longest command line accepted, CRLF included. RFC 2449 §4 says clients send at most 255
   * octets; we tolerate more up to this. SASL responses are longer: a PLAIN response of three
   * 255-octet fields (RFC 4616) is 1024 base64 characters. Default 2048.
   */
  maxCommandLength: number;
  /** Over-long lines answered with -ERR before the connection is closed. Default 3. */
  maxLongLines: number;
  /** Unknown or invalid commands before the connection is closed. Default 10. */
  maxBadCommands: number;
  /** Commands in one session (a full mailbox download is ~3 per message). Default 200000. */
  maxCommandsPerSession: number;
  /**
   * RFC 1939 §3: the inactivity autologout timer is at least 10 minutes. Also bounds how long a
   * response may wait for a client that stopped reading. Default 600000 ms.
   */
  idleTimeoutMs: number;
  /** Concurrent connections on this server; more get -ERR [SYS/TEMP] and are closed. Default 1000. */
  maxConnections: number;
  /** How long close() waits for busy sessions (a RETR, a commit) before cutting them. Default 10000 ms. */
  shutdownGraceMs: number;
}

export const POP3_DEFAULT_LIMITS: Pop3Limits = {
  maxCommandLength: 2048,
  maxLongLines: 3,
  maxBadCommands: 10,
  maxCommandsPerSession: 200_000,
  idleTimeoutMs: 10 * 60_000,
  maxConnections: 1000,
  shutdownGraceMs: 10_000,
};

export interface Pop3TlsOptions {
  key: string | Buffer;
  cert: string | Buffer;
}

/**
 * Optional add-on a backend implements to support APOP (RFC 1939 §7): the shared secret for a
 * user name, and the canonical account it belongs to. Without it APOP is never offered.
 */
export interface Pop3ApopBackend extends Pop3Backend {
  apopSecret(user: string, conn: ConnInfo): Promise<{ account: string; secret: string } | undefined>;
}

export interface Pop3ServerOptions {
  /** Used in the APOP timestamp and logs. */
  hostname: string;
  backend: Pop3Backend;
  logger?: Logger;
  /** Listener name recorded in ConnInfo: 'pop3' (110) or 'pop3s' (995). Default from implicitTls. */
  listener?: string;
  /** Certificate and key; with them STLS is offered (RFC 2595) and implicit TLS is possible. */
  tls?: Pop3TlsOptions;
  /** TLS from the first byte (port 995, RFC 8314). Needs `tls`. */
  implicitTls?: boolean;
  /** Allow USER/PASS and AUTH PLAIN/LOGIN without TLS from any address. Default false. */
  allowPlainAuthWithoutTls?: boolean;
  /**
   * Clients allowed plain-text logins without TLS. Default: loopback addresses (the textbook
   * telnet demo). Tests inject this to play a non-loopback client.
   */
  isTrustedClient?: (conn: ConnInfo) => boolean;
  /** Offer APOP (needs a backend with `apopSecret`). Default false. */
  apop?: boolean;
  limits?: Partial<Pop3Limits>;
  /** Failed-login delays (options or a shared policy, e.g. one per process). */
  loginDelay?: LoginDelayOptions | LoginDelayPolicy;
  /** Hears every session's lines, secrets masked (core/trace.ts); unset costs nothing. */
  onTrace?: TraceObserver;
}

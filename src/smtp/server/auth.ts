/**
 * SMTP AUTH (RFC 4954) on top of the SASL PLAIN/LOGIN state machines of src/wire: when AUTH may
 * be used, and the reply that ends an exchange.
 *
 * Failure semantics: wrong credentials → 535 5.7.8; a client `*` → 501 5.0.0; malformed base64 or
 * fields → 501 5.5.2; an authzid other than the authcid is refused (535: the backend contract has
 * no authorization step); a backend that throws → 454 4.7.0 and a log line. Passwords are never
 * logged. AUTH in clear text is allowed only where `authAllowedPlain` says so (loopback by
 * default), else 538 5.7.11 and not advertised.
 */
import { type ConnInfo, isLoopback, type Logger } from '../../core/index.js';
import type { SaslStep } from '../../wire/index.js';
import type { AuthBackend, SmtpReply } from './backend.js';
import type { SmtpServerOptions } from './options.js';
import { r } from './replies.js';

/** Whether AUTH may be advertised and used on this connection now. */
export function authAllowed(conn: ConnInfo, options: SmtpServerOptions): boolean {
  if (conn.tls) return true;
  const plain = options.authAllowedPlain ?? 'loopback';
  return plain === 'loopback' ? isLoopback(conn.remoteAddress) : plain;
}

/** The refusal of an AUTH command in the current state, or undefined when it may start. */
export function authRefusal(
  conn: ConnInfo,
  options: SmtpServerOptions,
  inTransaction: boolean,
): SmtpReply | undefined {
  if (!options.backend.auth) return r(502, '5.5.1', 'Error: AUTH not available');
  if (!conn.esmtp) return r(503, '5.5.1', 'Error: send EHLO first');
  if (conn.authUser) return r(503, '5.5.1', 'Error: already authenticated');
  if (inTransaction) return r(503, '5.5.1', 'Error: AUTH not allowed during a mail transaction');
  if (!authAllowed(conn, options))
    return r(538, '5.7.11', 'Encryption required for requested authentication mechanism');
  return undefined;
}

/** Ends an exchange (a success or failure step): checks the credentials, sets `conn.authUser`. */
export async function finishAuth(
  step: Exclude<SaslStep, { type: 'challenge' }>,
  mechanism: string | undefined,
  backend: AuthBackend,
  conn: ConnInfo,
  log: Logger,
): Promise<SmtpReply> {
  if (step.type === 'failure') {
    if (step.reason === 'cancelled') return r(501, '5.0.0', 'Authentication cancelled');
    return r(501, '5.5.2', `Error: ${step.message}`);
  }
  const { authzid, authcid, password } = step.credentials;
  let user: string | undefined;
  try {
    if (authzid === '' || authzid === authcid) user = await backend.authenticate(authcid, password, conn);
  } catch (err) {
    log.error({ err }, 'authentication backend failed');
    return r(454, '4.7.0', 'Temporary authentication failure');
  }
  if (user === undefined) {
    log.info({ user: authcid, mechanism }, 'authentication failed');
    return r(535, '5.7.8', 'Authentication credentials invalid');
  }
  conn.authUser = user;
  log.info({ user, mechanism }, 'authenticated');
  return r(235, '2.7.0', 'Authentication successful');
}

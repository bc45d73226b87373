/**
 * SASL PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login-00) as pure state machines: no
 * sockets, no accounts. A protocol server (SMTP AUTH, POP3 AUTH per RFC 5034) feeds the client's
 * base64 lines in and gets either a challenge to send, the decoded credentials, or a failure.
 *
 * Failure semantics: malformed input (bad base64, wrong number of NUL-separated fields, empty
 * authcid, over-long fields, invalid UTF-8) is a `failure` step with reason 'malformed'; a client
 * `*` line is reason 'cancelled'. Nothing throws on client input. The state machines never check
 * a password: that is the caller's backend.
 */

/** RFC 4616 §2: authzid, authcid and passwd are each at most 255 octets. */
export const SASL_MAX_FIELD_OCTETS = 255;

/** Mechanisms implemented here, in the order servers should advertise them. */
export const SASL_MECHANISMS = ['PLAIN', 'LOGIN'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface SaslCredentials {
  /** Authorization identity; '' when the client did not ask to act as someone else. */
  authzid: string;
  /** Authentication identity (the user name). */
  authcid: string;
  password: string;
}

export type SaslStep =
  /** Send `data` (already base64, may be '') as the continuation: `+ data` / `334 data`. */
  | { type: 'challenge'; data: string }
  | { type: 'success'; credentials: SaslCredentials }
  | { type: 'failure'; reason: 'malformed' | 'cancelled'; message: string };

/** Strict RFC 4648 base64 (padding required, no whitespace); '' is valid and empty. */
export function isBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

function failure(reason: 'malformed' | 'cancelled', message: string): SaslStep {
  return { type: 'failure', reason, message };
}

/**
 * Decodes a PLAIN message `[authzid] NUL authcid NUL passwd` given in base64.
 * Returns the credentials or a failure step.
 */
export function decodePlain(b64: string): SaslStep {
  if (!isBase64(b64)) return failure('malformed', 'Invalid base64');
  const raw = Buffer.from(b64, 'base64');
  const first = raw.indexOf(0);
  const second = first < 0 ? -1 : raw.indexOf(0, first + 1);
  if (first < 0 || second < 0 || raw.indexOf(0, second + 1) >= 0) {
    return failure('malformed', 'PLAIN needs exactly authzid NUL authcid NUL passwd');
  }
  const parts = [raw.subarray(0, first), raw.subarray(first + 1, second), raw.subarray(second + 1)];
  if (parts.some((p) => p.length > SASL_MAX_FIELD_OCTETS)) return failure('malformed', 'Field too long');
  const [authzid, authcid, password] = parts.map(decodeUtf8);
  if (authzid === undefined || authcid === undefined || password === undefined) {
    return failure('malformed', 'Invalid UTF-8');
  }
  if (authcid === '' || password === '') return failure('malformed', 'Empty user name or password');
  return { type: 'success', credentials: { authzid, authcid, password } };
}

/** Client side of PLAIN: the base64 initial response. Throws on values PLAIN cannot carry. */
export function encodePlain(authcid: string, password: string, authzid = ''): string {
  for (const v of [authcid, password, authzid]) {
    if (v.includes('\0')) throw new TypeError('SASL PLAIN fields cannot contain NUL');
    if (Buffer.byteLength(v) > SASL_MAX_FIELD_OCTETS) throw new TypeError('SASL PLAIN field too long');
  }
  return Buffer.from(`${authzid}\0${authcid}\0${password}`, 'utf8').toString('base64');
}

/** Client side of LOGIN: the base64 answer to either prompt. */
export function encodeLogin(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64');
}

/** A server-side SASL exchange. `start` once, then `respond` to each client line until done. */
export interface SaslServer {
  readonly mechanism: SaslMechanism;
  /** `initial` is the initial response as sent ('=' means empty), or undefined if none was sent. */
  start(initial?: string): SaslStep;
  /** One client line (base64, or '*' to cancel). */
  respond(line: string): SaslStep;
}

class PlainServer implements SaslServer {
  readonly mechanism = 'PLAIN' as const;
  private done = false;

  start(initial?: string): SaslStep {
    if (initial === undefined) return { type: 'challenge', data: '' };
    return this.respond(initial === '=' ? '' : initial);
  }

  respond(line: string): SaslStep {
    if (this.done) return failure('malformed', 'Exchange already finished');
    this.done = true;
    if (line === '*') return failure('cancelled', 'Authentication cancelled');
    return decodePlain(line);
  }
}

const USERNAME_PROMPT = Buffer.from('Username:').toString('base64');
const PASSWORD_PROMPT = Buffer.from('Password:').toString('base64');

class LoginServer implements SaslServer {
  readonly mechanism = 'LOGIN' as const;
  private user: string | undefined;
  private step = 0;

  start(initial?: string): SaslStep {
    // Some clients send the user name as an initial response (RFC 4954 style); accept it.
    if (initial === undefined || initial === '=') return { type: 'challenge', data: USERNAME_PROMPT };
    return this.respond(initial);
  }

  respond(line: string): SaslStep {
    if (line === '*') {
      this.step = 2;
      return failure('cancelled', 'Authentication cancelled');
    }
    if (this.step >= 2) return failure('malformed', 'Exchange already finished');
    const value = this.decodeField(line);
    if (value === undefined) {
      this.step = 2;
      return failure('malformed', 'Invalid base64, UTF-8 or field');
    }
    if (this.step === 0) {
      this.step = 1;
      this.user = value;
      return { type: 'challenge', data: PASSWORD_PROMPT };
    }
    this.step = 2;
    if (this.user === '' || value === '') return failure('malformed', 'Empty user name or password');
    return { type: 'success', credentials: { authzid: '', authcid: this.user!, password: value } };
  }

  private decodeField(line: string): string | undefined {
    if (!isBase64(line)) return undefined;
    const raw = Buffer.from(line, 'base64');
    if (raw.length > SASL_MAX_FIELD_OCTETS || raw.includes(0)) return undefined;
    return decodeUtf8(raw);
  }
}

/** A fresh server-side exchange for `mechanism` (case-insensitive), or undefined if unsupported. */
export function createSaslServer(mechanism: string): SaslServer | undefined {
  switch (mechanism.toUpperCase()) {
    case 'PLAIN':
      return new PlainServer();
    case 'LOGIN':
      return new LoginServer();
    default:
      return undefined;
  }
}

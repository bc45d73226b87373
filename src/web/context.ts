/** What every route module shares: the store, the mta pieces and the web's own state. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../core/index.js';
import type { Authenticator } from '../mta/auth/index.js';
import type { Backend } from '../smtp/server/backend.js';
import type { Store, User } from '../store/types.js';
import { StoreError } from '../store/types.js';
import type { LoginLimiter } from './login-limit.js';
import type { MailReader } from './messages.js';
import type { SessionTrace } from './session-trace.js';
import type { SessionTable, WebSession } from './sessions.js';

export interface WebLimits {
  /** JSON bodies (RFC 8259 has no limit; ours). Default 1 MiB. */
  maxJsonBytes: number;
  /** A composed message with its attachments (the SMTP SIZE limit applies again on submission). Default 25 MiB. */
  maxMessageBytes: number;
  /** Attachments per message. Default 20. */
  maxAttachments: number;
  /** Messages per list page. Default 200. */
  maxPage: number;
  /** How often the event stream looks for new mail. Default 2000 ms. */
  eventPollMs: number;
}

export const WEB_LIMITS: WebLimits = {
  maxJsonBytes: 1024 * 1024,
  maxMessageBytes: 25 * 1024 * 1024,
  maxAttachments: 20,
  maxPage: 200,
  eventPollMs: 2000,
};

export interface WebContext {
  store: Store;
  authenticator: Authenticator;
  /** The SMTP backend: the web submits through it like any SMTP client (limits, rules, queue). */
  backend: Backend;
  hostname: string;
  logger: Logger;
  sessions: SessionTable;
  limiter: LoginLimiter;
  reader: MailReader;
  limits: WebLimits;
  secure: boolean;
  /** The server's data directory (DKIM keys live there); DKIM admin is unavailable without it. */
  dataDir?: string;
  /** Recent SMTP/POP3 sessions for the admin console; absent when tracing is off. */
  sessionTrace?: SessionTrace;
}

/** The authenticated caller, set by the auth hook on every /api route but login. */
export interface Caller {
  session: WebSession;
  user: User;
}

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function caller(req: FastifyRequest): Caller {
  const c = (req as FastifyRequest & { caller?: Caller }).caller;
  if (!c) throw new HttpError(401, 'not logged in');
  return c;
}

export function notFound(what = 'not found'): HttpError {
  return new HttpError(404, what);
}

/** Store errors callers can act on become 4xx; anything else stays a 500. */
export function storeStatus(err: unknown): HttpError | undefined {
  if (!(err instanceof StoreError)) return undefined;
  const code = { conflict: 409, 'not-found': 404, invalid: 400, unavailable: 503 }[err.code];
  return new HttpError(code, err.message);
}

export type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export function str(v: unknown, name: string, max = 998): string {
  if (typeof v !== 'string' || v.length > max) throw new HttpError(400, `${name} must be a string`);
  return v;
}

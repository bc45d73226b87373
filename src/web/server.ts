/**
 * The web listener: Fastify with the JSON API under /api and the built webmail (src/web/ui/dist)
 * everywhere else.
 *
 * Security model:
 * - Sessions: random ids in an HttpOnly, SameSite=Strict cookie (Secure under TLS), see sessions.ts.
 * - CSRF: every state-changing /api request (anything but GET/HEAD) must carry the session's token
 *   in `X-CSRF-Token`, and, when the browser sends an Origin, that Origin must be this server's
 *   (login too, against login CSRF). A JSON body must be `application/json`, which a cross-site
 *   form cannot send without a CORS preflight we never answer.
 * - Every /api route but login needs a live session whose user still exists; admin routes need
 *   an admin; other users' messages are 404.
 * - Pages get a strict CSP; mail HTML is only ever shown inside a sandboxed iframe by the UI.
 *
 * Errors: 4xx carry `{error}` with a short reason; anything unexpected is logged with the request
 * id and answered 500 `{error: "internal error"}`, never with internals.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from '../core/index.js';
import type { Authenticator } from '../mta/auth/index.js';
import type { Backend } from '../smtp/server/backend.js';
import type { Store } from '../store/types.js';
import {
  type Caller,
  HttpError,
  storeStatus,
  WEB_LIMITS,
  type WebContext,
  type WebLimits,
} from './context.js';
import { eventRoutes } from './events.js';
import { LoginLimiter, type LoginLimitOptions } from './login-limit.js';
import { MailReader } from './messages.js';
import { adminRoutes } from './routes-admin.js';
import { authRoutes } from './routes-auth.js';
import { deliveryRoutes } from './routes-delivery.js';
import { mailRoutes } from './routes-mail.js';
import { sendRoutes } from './routes-send.js';
import { sessionRoutes } from './routes-sessions.js';
import { settingsRoutes } from './routes-settings.js';
import type { SessionTrace } from './session-trace.js';
import { csrfMatches, SESSION_COOKIE, type SessionLimits, SessionTable } from './sessions.js';

export interface WebServerOptions {
  store: Store;
  authenticator: Authenticator;
  /** The SMTP backend the web submits through (InboundBackend in the server). */
  backend: Backend;
  hostname: string;
  logger: Logger;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  limits?: Partial<WebLimits>;
  sessions?: Partial<SessionLimits>;
  loginLimit?: Partial<LoginLimitOptions>;
  /** The built UI; default src/web/ui/dist (found from source or from the build). */
  uiDir?: string;
  /** The server's data directory, for the admin's DKIM keys. */
  dataDir?: string;
  /** Recent SMTP/POP3 sessions (fed by the protocol servers) for the admin console. */
  sessionTrace?: SessionTrace;
}

export interface WebServer {
  app: FastifyInstance;
  sessions: SessionTable;
  listen(host: string, port: number): Promise<AddressInfo>;
  /** Swaps the certificate of an HTTPS listener (renewals without restart); no-op for HTTP. */
  reloadTls(m: { key: string | Buffer; cert: string | Buffer }): void;
  close(): Promise<void>;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The page CSP: scripts and styles of our own only; mail images only inside the sandboxed frame. */
const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  'img-src * data: blob:',
  "frame-src 'self' about: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function findUiDir(): string | undefined {
  const here = fileURLToPath(new URL('.', import.meta.url));
  // From source (src/web/) or from the build (dist/src/web/ → ../../../src/web/).
  for (const c of [`${here}ui/dist`, `${here}../../../src/web/ui/dist`]) {
    if (existsSync(`${c}/index.html`)) return c;
  }
  return undefined;
}

function sameOrigin(req: FastifyRequest, origin: string, secure: boolean): boolean {
  const host = req.headers.host;
  return !!host && origin === `${secure ? 'https' : 'http'}://${host}`;
}

export async function createWebServer(opts: WebServerOptions): Promise<WebServer> {
  const limits = { ...WEB_LIMITS, ...opts.limits };
  const secure = !!opts.tls;
  const ctx: WebContext = {
    store: opts.store,
    authenticator: opts.authenticator,
    backend: opts.backend,
    hostname: opts.hostname,
    logger: opts.logger.child({ listener: 'web' }),
    sessions: new SessionTable(opts.sessions),
    limiter: new LoginLimiter(opts.loginLimit),
    reader: new MailReader(opts.store),
    limits,
    secure,
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    ...(opts.sessionTrace ? { sessionTrace: opts.sessionTrace } : {}),
  };
  const app = Fastify({
    logger: false,
    bodyLimit: limits.maxJsonBytes,
    forceCloseConnections: true,
    trustProxy: false,
    ...(opts.tls ? { https: { key: opts.tls.key, cert: opts.tls.cert } } : {}),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  await app.register(fastifyCookie);
  await app.register(fastifyMultipart, {
    limits: {
      fileSize: limits.maxMessageBytes,
      files: limits.maxAttachments + 1,
      fields: 50,
      fieldSize: 10 * 1024 * 1024,
    },
  });

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', PAGE_CSP);
    return payload;
  });

  app.addHook('preHandler', async (req) => {
    // By route, not URL: unknown /api paths reach the 404 handler (or the static wildcard) unauthenticated.
    const path = req.routeOptions.url ?? '';
    if (!path.startsWith('/api/') || req.is404) return;
    const unsafe = UNSAFE.has(req.method);
    const origin = req.headers.origin;
    if (unsafe && origin !== undefined && !sameOrigin(req, origin, secure)) {
      throw new HttpError(403, 'cross-origin request refused');
    }
    if (path === '/api/login') return;
    const session = ctx.sessions.get(req.cookies[SESSION_COOKIE]);
    if (!session) throw new HttpError(401, 'not logged in');
    const user = await ctx.store.users.getById(session.userId);
    if (!user) {
      ctx.sessions.destroy(session.id);
      throw new HttpError(401, 'not logged in');
    }
    if (unsafe && !csrfMatches(session, req.headers['x-csrf-token'])) {
      throw new HttpError(403, 'missing or wrong CSRF token');
    }
    (req as FastifyRequest & { caller?: Caller }).caller = { session, user };
  });

  app.setErrorHandler((err, req, reply) => {
    const e = err as Error & { statusCode?: number; code?: string; refused?: unknown };
    const mapped = storeStatus(err);
    let status = mapped?.statusCode ?? e.statusCode ?? 500;
    if (e.code === 'FST_REQ_FILE_TOO_LARGE' || e.code === 'FST_FILES_LIMIT') status = 413;
    if (status >= 500) {
      ctx.logger.error({ err, reqId: req.id, url: req.url }, 'web: request failed');
      return reply.code(500).send({ error: 'internal error' });
    }
    const body: Record<string, unknown> = { error: (mapped ?? e).message };
    if (e.refused) body.refused = e.refused;
    return reply.code(status).send(body);
  });

  authRoutes(app, ctx);
  mailRoutes(app, ctx);
  sendRoutes(app, ctx);
  deliveryRoutes(app, ctx);
  adminRoutes(app, ctx);
  sessionRoutes(app, ctx);
  settingsRoutes(app, ctx);
  eventRoutes(app, ctx);

  const uiDir = opts.uiDir ?? findUiDir();
  if (uiDir) await app.register(fastifyStatic, { root: uiDir, index: 'index.html' });

  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/api/') || req.url === '/api' || !uiDir || req.method !== 'GET') {
      return reply.code(404).send({ error: 'not found' });
    }
    // Client-side routes all get the single page.
    return reply.type('text/html').sendFile('index.html');
  });

  const sweeper = setInterval(() => ctx.sessions.sweep(), 60_000);
  sweeper.unref();
  if (!uiDir) ctx.logger.warn('web: the UI is not built (npm install builds it); serving the API only');

  return {
    app,
    sessions: ctx.sessions,
    async listen(host, port) {
      await app.listen({ host, port });
      return app.server.address() as AddressInfo;
    },
    reloadTls(m) {
      if (secure) (app.server as unknown as TlsServer).setSecureContext({ key: m.key, cert: m.cert });
    },
    async close() {
      clearInterval(sweeper);
      await app.close();
    },
  };
}

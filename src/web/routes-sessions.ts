/**
 * Recent SMTP and POP3 sessions for administrators (403 for others): `GET /api/admin/sessions`
 * lists them newest first, `GET /api/admin/sessions/:id` gives one transcript (C:/S: lines with
 * times), and `GET /api/admin/sessions/stream` pushes every new session, line and end as
 * server-sent events. Answers `{enabled: false}` and an empty list when tracing is off.
 *
 * The stream batches: updates collect for up to `FLUSH_MS` and go out as one `trace` event, so a
 * busy server costs the browser a few events a second, not one per line. A client that falls
 * behind (more than `MAX_PENDING` updates waiting, or `MAX_UNSENT_BYTES` unsent on the socket) is
 * told `reset` or cut off; it reconnects and reloads the list, losing nothing it cannot fetch.
 * Every keepalive re-checks that the caller is still a logged-in administrator.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { caller, HttpError, notFound, type WebContext } from './context.js';
import type { TraceUpdate } from './session-trace.js';
import { SESSION_COOKIE } from './sessions.js';

const FLUSH_MS = 250;
const MAX_PENDING = 2000;
const MAX_UNSENT_BYTES = 1024 * 1024;
const KEEPALIVE_MS = 25_000;

function admin(req: FastifyRequest) {
  const c = caller(req);
  if (!c.user.isAdmin) throw new HttpError(403, 'administrators only');
  return c;
}

export function sessionRoutes(app: FastifyInstance, ctx: WebContext): void {
  const trace = ctx.sessionTrace;

  app.get('/api/admin/sessions', async (req) => {
    admin(req);
    if (!trace) return { enabled: false, sessions: [] };
    return { enabled: true, limits: trace.limits, sessions: trace.list() };
  });

  app.get('/api/admin/sessions/stream', async (req, reply) => {
    const { session, user } = admin(req);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 3000\nevent: ready\ndata: ${JSON.stringify({ enabled: !!trace })}\n\n`);
    let pending: TraceUpdate[] = [];
    let overflow = false;
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const flush = () => {
      timer = undefined;
      if (closed) return;
      if (overflow) res.write('event: reset\ndata: {}\n\n');
      else if (pending.length) res.write(`event: trace\ndata: ${JSON.stringify(pending)}\n\n`);
      pending = [];
      overflow = false;
      if (res.writableLength > MAX_UNSENT_BYTES) res.end();
    };
    const unsubscribe =
      trace?.subscribe((u) => {
        if (overflow) return;
        if (pending.length >= MAX_PENDING) {
          overflow = true;
          pending = [];
        } else pending.push(u);
        timer ??= setTimeout(flush, FLUSH_MS);
      }) ?? (() => {});
    const keepalive = setInterval(() => {
      void (async () => {
        const live = ctx.sessions.get(req.cookies[SESSION_COOKIE]);
        const still = live?.id === session.id ? await ctx.store.users.getById(user.id) : undefined;
        if (!still?.isAdmin) res.end();
        else if (!closed) res.write(': keepalive\n\n');
      })().catch(() => res.end());
    }, KEEPALIVE_MS);
    const stop = () => {
      closed = true;
      unsubscribe();
      clearTimeout(timer);
      clearInterval(keepalive);
    };
    req.raw.on('close', stop);
    res.on('close', stop);
  });

  app.get('/api/admin/sessions/:id', async (req) => {
    admin(req);
    const s = trace?.get((req.params as { id: string }).id);
    if (!s) throw notFound('no such session');
    return s;
  });
}

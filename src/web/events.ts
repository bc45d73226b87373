/**
 * New-mail notifications as server-sent events (HTML Living Standard §9.2): `GET /api/events`
 * keeps the response open and sends `event: mailbox` with `{name, uidNext, total, unseen}`
 * whenever a mailbox of the user changes. It polls the store (every `eventPollMs`) rather than
 * hooking deliveries, because in a cluster the delivery may happen on another node.
 *
 * Failure semantics: a store error ends the stream (the browser's EventSource reconnects by
 * itself); a comment line every 25 s keeps proxies from closing an idle stream.
 */
import type { FastifyInstance } from 'fastify';
import { caller, type WebContext } from './context.js';

const KEEPALIVE_MS = 25_000;

export function eventRoutes(app: FastifyInstance, ctx: WebContext): void {
  app.get('/api/events', async (req, reply) => {
    const { user } = caller(req);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    const seen = new Map<string, string>();
    let first = true;
    let closed = false;
    const poll = async () => {
      const boxes = await ctx.store.mailboxes.list(user.id);
      for (const b of boxes) {
        const msgs = await ctx.store.messages.list(b.id);
        const state = {
          name: b.name,
          uidNext: b.uidNext,
          total: msgs.length,
          unseen: msgs.filter((m) => !m.flags.includes('\\Seen')).length,
        };
        const key = JSON.stringify(state);
        if (!first && seen.get(b.name) !== key && !closed) res.write(`event: mailbox\ndata: ${key}\n\n`);
        seen.set(b.name, key);
      }
      if (first && !closed) res.write('event: ready\ndata: {}\n\n');
      first = false;
    };
    let timer: NodeJS.Timeout | undefined;
    const loop = () => {
      poll()
        .then(() => {
          if (!closed) timer = setTimeout(loop, ctx.limits.eventPollMs);
        })
        .catch((err) => {
          ctx.logger.error({ err }, 'web: event stream failed');
          res.end();
        });
    };
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    const stop = () => {
      closed = true;
      clearTimeout(timer);
      clearInterval(keepalive);
    };
    req.raw.on('close', stop);
    res.on('close', stop);
    loop();
  });
}

/**
 * New-mail notifications as server-sent events (HTML Living Standard §9.2): `GET /api/events`
 * keeps the response open and sends `event: mailbox` with `{name, uidNext}` whenever a message
 * arrives in a mailbox of the user (its uidNext grows; RFC 3501's UIDNEXT idea). Flag changes and
 * deletions are not pushed: the page that makes them refreshes itself. It polls the store's
 * mailbox rows (every `eventPollMs`) rather than hooking deliveries, because in a cluster the
 * delivery may happen on another node.
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
    const seen = new Map<string, number>();
    let first = true;
    let closed = false;
    // Only the mailbox rows are read (no message lists): cheap enough to poll for every client.
    const poll = async () => {
      for (const b of await ctx.store.mailboxes.list(user.id)) {
        const before = seen.get(b.name);
        if (!first && before !== b.uidNext && !closed) {
          res.write(`event: mailbox\ndata: ${JSON.stringify({ name: b.name, uidNext: b.uidNext })}\n\n`);
        }
        seen.set(b.name, b.uidNext);
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

/**
 * The admin API (admin accounts only, 403 for others): domains (with their DKIM keys), users and
 * aliases, the same operations as `posthorn domain|user|alias` and `posthorn domain dkim`. Store
 * refusals map to HTTP: conflict 409 (e.g. a domain that still has users), not-found 404,
 * invalid 400.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashPassword } from '../mta/auth/index.js';
import {
  type DkimKey,
  dkimTxtRecord,
  ensureDkimKey,
  isValidDkimSelector,
  loadDkimKey,
  loadDkimKeys,
} from '../mta/outbound/index.js';
import { caller, HttpError, notFound, str, type WebContext } from './context.js';

/** RFC 5321 §4.5.3.1.1-2 limits on a local part (64) and a domain (255). */
const ADDRESS_RE = /^[^@\s]{1,64}@[^@\s]{1,255}$/;
const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/i;
const MIN_PASSWORD = 8;
/** Queue entries shown at once. */
const QUEUE_PAGE = 500;

function admin(req: FastifyRequest) {
  const c = caller(req);
  if (!c.user.isAdmin) throw new HttpError(403, 'administrators only');
  return c;
}

function body(req: FastifyRequest): Record<string, unknown> {
  return (req.body ?? {}) as Record<string, unknown>;
}

/** What the admin publishes in DNS for a key (never the private half). */
function dkimView(k: DkimKey) {
  return { selector: k.selector, ...dkimTxtRecord(k) };
}

export function adminRoutes(app: FastifyInstance, ctx: WebContext): void {
  const { store } = ctx;

  app.get('/api/admin/domains', async (req) => {
    admin(req);
    const domains = await store.domains.list();
    const keys = ctx.dataDir ? loadDkimKeys(ctx.dataDir) : new Map<string, DkimKey>();
    return {
      dkimAvailable: !!ctx.dataDir,
      domains: domains.map((d) => {
        const k = keys.get(d.name);
        return { name: d.name, createdAt: d.createdAt.toISOString(), dkim: k ? dkimView(k) : null };
      }),
    };
  });

  /** The served domain named in the URL (404 otherwise) and the data dir DKIM keys live in. */
  async function dkimTarget(req: FastifyRequest): Promise<{ domain: string; dataDir: string }> {
    admin(req);
    const domain = (req.params as { name: string }).name.toLowerCase();
    if (!DOMAIN_RE.test(domain) || !(await store.domains.has(domain))) throw notFound('no such domain');
    // Only an embedded web server (tests, tools) runs without one; `serve` always has a data dir.
    if (!ctx.dataDir) throw notFound('this server keeps no DKIM keys');
    return { domain, dataDir: ctx.dataDir };
  }

  // `posthorn domain dkim NAME [--selector S] [--rotate]`: the same key files, the same record.
  app.get('/api/admin/domains/:name/dkim', async (req) => {
    const { domain, dataDir } = await dkimTarget(req);
    const k = loadDkimKey(dataDir, domain);
    if (!k) throw notFound('no DKIM key for this domain');
    return { domain, ...dkimView(k) };
  });

  app.post('/api/admin/domains/:name/dkim', async (req, reply) => {
    const { domain, dataDir } = await dkimTarget(req);
    const b = body(req);
    const selector = b.selector === undefined ? undefined : str(b.selector, 'selector', 63).trim();
    if (selector !== undefined && !isValidDkimSelector(selector)) throw new HttpError(400, 'bad selector');
    if (b.rotate !== undefined && typeof b.rotate !== 'boolean')
      throw new HttpError(400, 'rotate must be true or false');
    const { key, created } = await ensureDkimKey(dataDir, domain, {
      ...(selector ? { selector } : {}),
      rotate: b.rotate === true,
    });
    const c = caller(req);
    if (created)
      ctx.logger.info({ domain, selector: key.selector, by: c.user.address }, 'web: DKIM key created');
    reply.code(created ? 201 : 200);
    return { domain, created, ...dkimView(key) };
  });

  app.post('/api/admin/domains', async (req, reply) => {
    admin(req);
    const name = str(body(req).name, 'name', 253).trim().toLowerCase();
    if (!DOMAIN_RE.test(name)) throw new HttpError(400, 'bad domain name');
    if (await store.domains.has(name)) throw new HttpError(409, 'domain exists');
    await store.domains.add(name);
    reply.code(201);
    return { name };
  });

  app.delete('/api/admin/domains/:name', async (req) => {
    admin(req);
    const name = (req.params as { name: string }).name.toLowerCase();
    if (!(await store.domains.has(name))) throw notFound('no such domain');
    await store.domains.remove(name);
    return { ok: true };
  });

  app.get('/api/admin/users', async (req) => {
    admin(req);
    const users = await store.users.list();
    return {
      users: users.map((u) => ({
        address: u.address,
        isAdmin: u.isAdmin,
        createdAt: u.createdAt.toISOString(),
        forward: u.forward ?? null,
      })),
    };
  });

  app.post('/api/admin/users', async (req, reply) => {
    admin(req);
    const b = body(req);
    const address = str(b.address, 'address', 320).trim();
    const password = str(b.password, 'password', 1024);
    if (!ADDRESS_RE.test(address)) throw new HttpError(400, 'bad address');
    if (password.length < MIN_PASSWORD) throw new HttpError(400, `password needs ${MIN_PASSWORD} characters`);
    if (!(await store.domains.has(address.split('@')[1]!)))
      throw new HttpError(400, 'domain not served here');
    if (await store.users.get(address)) throw new HttpError(409, 'user exists');
    const u = await store.users.add({
      address,
      passwordHash: await hashPassword(password),
      isAdmin: b.isAdmin === true,
    });
    reply.code(201);
    return { address: u.address, isAdmin: u.isAdmin };
  });

  app.delete('/api/admin/users/:address', async (req) => {
    const c = admin(req);
    const address = (req.params as { address: string }).address;
    const u = await store.users.get(address);
    if (!u) throw notFound('no such user');
    if (u.id === c.user.id) throw new HttpError(409, 'you cannot remove yourself');
    await store.users.remove(u.address);
    ctx.sessions.destroyUser(u.id);
    return { ok: true };
  });

  app.get('/api/admin/aliases', async (req) => {
    admin(req);
    return { aliases: await store.aliases.list() };
  });

  app.post('/api/admin/aliases', async (req, reply) => {
    admin(req);
    const b = body(req);
    const address = str(b.address, 'address', 320).trim();
    if (!ADDRESS_RE.test(address)) throw new HttpError(400, 'bad address');
    if (!Array.isArray(b.targets) || b.targets.length === 0 || b.targets.length > 100)
      throw new HttpError(400, 'targets must be a non-empty list');
    const targets = b.targets.map((t) => str(t, 'targets', 320).trim());
    if (!targets.every((t) => ADDRESS_RE.test(t))) throw new HttpError(400, 'bad target address');
    if (!(await store.domains.has(address.split('@')[1]!)))
      throw new HttpError(400, 'domain not served here');
    const a = await store.aliases.add(address, targets);
    reply.code(201);
    return a;
  });

  app.delete('/api/admin/aliases/:address', async (req) => {
    admin(req);
    const address = (req.params as { address: string }).address;
    if (!(await store.aliases.get(address))) throw notFound('no such alias');
    await store.aliases.remove(address);
    return { ok: true };
  });

  // The outbound queue (`posthorn queue list|retry|delete`).
  app.get('/api/admin/queue', async (req) => {
    admin(req);
    const entries = await store.queue.list({ limit: QUEUE_PAGE });
    return {
      entries: entries.map((e) => ({
        id: e.id,
        mailFrom: e.mailFrom,
        createdAt: e.createdAt.toISOString(),
        nextAttemptAt: e.nextAttemptAt.toISOString(),
        expiresAt: e.expiresAt.toISOString(),
        size: e.size,
        authUser: e.envelope.client?.authUser ?? null,
        recipients: e.recipients.map((r) => ({
          address: r.address,
          state: r.state,
          attempts: r.attempts,
          last: r.last ?? null,
        })),
      })),
    };
  });

  app.post('/api/admin/queue/:id/retry', async (req) => {
    admin(req);
    const id = (req.params as { id: string }).id;
    if (!(await store.queue.get(id))) throw notFound('no such queue entry');
    return { changed: await store.queue.retry(id) };
  });

  app.delete('/api/admin/queue/:id', async (req) => {
    admin(req);
    const id = (req.params as { id: string }).id;
    if (!(await store.queue.get(id))) throw notFound('no such queue entry');
    await store.queue.remove(id);
    return { ok: true };
  });
}

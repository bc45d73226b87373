/**
 * Login, logout and "who am I". Login checks the address and password with the same
 * Authenticator as SMTP AUTH and POP3, is rate-limited per client IP and per account name (429),
 * and answers the same 401 for an unknown user and a wrong password.
 */
import type {} from '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import { caller, HttpError, str, type WebContext } from './context.js';
import { SESSION_COOKIE } from './sessions.js';

export function authRoutes(app: FastifyInstance, ctx: WebContext): void {
  const cookieOpts = { path: '/', httpOnly: true, sameSite: 'strict' as const, secure: ctx.secure };

  app.post('/api/login', async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const address = str(body.address, 'address', 320).trim();
    const password = str(body.password, 'password', 1024);
    const wait = ctx.limiter.blockedFor(req.ip, address);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      throw new HttpError(429, 'too many failed logins; try again later');
    }
    const canonical = await ctx.authenticator.authenticate(address, password);
    const user = canonical ? await ctx.store.users.get(canonical) : undefined;
    if (!user) {
      ctx.limiter.fail(req.ip, address);
      ctx.logger.info({ ip: req.ip, login: address }, 'web login failed');
      throw new HttpError(401, 'wrong address or password');
    }
    ctx.limiter.succeed(address);
    const s = ctx.sessions.create(user.id, user.address);
    reply.setCookie(SESSION_COOKIE, s.id, cookieOpts);
    ctx.logger.info({ ip: req.ip, user: user.address }, 'web login');
    return { address: user.address, isAdmin: user.isAdmin, csrfToken: s.csrf };
  });

  app.post('/api/logout', async (req, reply) => {
    const c = caller(req);
    ctx.sessions.destroy(c.session.id);
    reply.clearCookie(SESSION_COOKIE, cookieOpts);
    return { ok: true };
  });

  app.get('/api/me', async (req) => {
    const c = caller(req);
    return { address: c.user.address, isAdmin: c.user.isAdmin, csrfToken: c.session.csrf };
  });
}

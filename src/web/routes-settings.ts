/**
 * A user's own settings: password change (the current password is required, and every other
 * session of the user ends), forwarding (`posthorn user forward`: targets and "keep a copy") and
 * the vacation auto-reply (RFC 3834; sent by mta/inbound/vacation.ts). Password checks count
 * against the login rate limit, so this is no side door for guessing.
 */
import type { FastifyInstance } from 'fastify';
import { hashPassword } from '../mta/auth/index.js';
import {
  MAX_VACATION_SUBJECT,
  MAX_VACATION_TEXT_BYTES,
  VACATION_DEFAULT_DAYS,
  VACATION_MAX_DAYS,
  VACATION_MIN_DAYS,
} from '../store/vacation-rules.js';
import { caller, HttpError, str, type WebContext } from './context.js';

export const MIN_PASSWORD_LENGTH = 8;
/** Forwarding targets per user. */
export const MAX_FORWARD_TARGETS = 20;
const ADDRESS_RE = /^[^@\s]{1,64}@[^@\s]{1,255}$/;

export function settingsRoutes(app: FastifyInstance, ctx: WebContext): void {
  app.post('/api/settings/password', async (req) => {
    const { user, session } = caller(req);
    const b = (req.body ?? {}) as Record<string, unknown>;
    const current = str(b.current, 'current', 1024);
    const next = str(b.password, 'password', 1024);
    if (next.length < MIN_PASSWORD_LENGTH) {
      throw new HttpError(400, `password needs ${MIN_PASSWORD_LENGTH} characters`);
    }
    const wait = ctx.limiter.blockedFor(req.ip, user.address);
    if (wait > 0) throw new HttpError(429, 'too many failed attempts; try again later');
    if (!(await ctx.authenticator.authenticate(user.address, current))) {
      ctx.limiter.fail(req.ip, user.address);
      throw new HttpError(403, 'the current password is wrong');
    }
    await ctx.store.users.setPassword(user.address, await hashPassword(next));
    ctx.sessions.destroyUser(user.id, session.id);
    ctx.logger.info({ user: user.address }, 'web: password changed');
    return { ok: true };
  });

  app.get('/api/settings/forward', async (req) => {
    const { user } = caller(req);
    return { forward: user.forward ?? null };
  });

  app.post('/api/settings/forward', async (req) => {
    const { user } = caller(req);
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (!Array.isArray(b.targets) || b.targets.length > MAX_FORWARD_TARGETS) {
      throw new HttpError(400, `targets must be a list of at most ${MAX_FORWARD_TARGETS} addresses`);
    }
    const targets = b.targets.map((t) => str(t, 'targets', 320).trim()).filter(Boolean);
    if (!targets.every((t) => ADDRESS_RE.test(t))) throw new HttpError(400, 'bad target address');
    if (targets.some((t) => t.toLowerCase() === user.address.toLowerCase())) {
      throw new HttpError(400, 'cannot forward to yourself');
    }
    const forward = targets.length ? { targets, keep: b.keep !== false } : undefined;
    await ctx.store.users.setForward(user.address, forward);
    return { forward: forward ?? null };
  });

  app.get('/api/settings/vacation', async (req) => {
    const { user } = caller(req);
    const v = await ctx.store.vacation.get(user.id);
    return {
      vacation: {
        enabled: v?.enabled ?? false,
        subject: v?.subject ?? '',
        text: v?.text ?? '',
        intervalDays: v?.intervalDays ?? VACATION_DEFAULT_DAYS,
      },
      limits: {
        minDays: VACATION_MIN_DAYS,
        maxDays: VACATION_MAX_DAYS,
        maxSubject: MAX_VACATION_SUBJECT,
        maxTextBytes: MAX_VACATION_TEXT_BYTES,
      },
    };
  });

  app.put('/api/settings/vacation', async (req) => {
    const { user } = caller(req);
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (typeof b.enabled !== 'boolean') throw new HttpError(400, 'enabled must be true or false');
    const subject = b.subject === undefined ? '' : str(b.subject, 'subject', MAX_VACATION_SUBJECT).trim();
    if (/[\x00-\x1f\x7f]/.test(subject)) throw new HttpError(400, 'subject must be one line');
    const text = b.text === undefined ? '' : str(b.text, 'text', MAX_VACATION_TEXT_BYTES);
    if (Buffer.byteLength(text) > MAX_VACATION_TEXT_BYTES)
      throw new HttpError(400, `text must be at most ${MAX_VACATION_TEXT_BYTES} bytes`);
    if (b.enabled && text.trim() === '') throw new HttpError(400, 'an auto-reply needs a text');
    const days = b.intervalDays ?? VACATION_DEFAULT_DAYS;
    if (
      typeof days !== 'number' ||
      !Number.isInteger(days) ||
      days < VACATION_MIN_DAYS ||
      days > VACATION_MAX_DAYS
    )
      throw new HttpError(
        400,
        `intervalDays must be a whole number from ${VACATION_MIN_DAYS} to ${VACATION_MAX_DAYS}`,
      );
    const v = await ctx.store.vacation.set(user.id, {
      enabled: b.enabled,
      subject,
      text,
      intervalDays: days,
    });
    ctx.logger.info({ user: user.address, enabled: v.enabled }, 'web: vacation reply saved');
    return {
      vacation: { enabled: v.enabled, subject: v.subject, text: v.text, intervalDays: v.intervalDays },
    };
  });
}

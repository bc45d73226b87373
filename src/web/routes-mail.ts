/**
 * Reading and filing mail: mailboxes, message pages, one message (decoded), its raw bytes, its
 * attachments, flags, move and delete. Every route looks the message up through
 * MailReader.owned, so another user's id is 404, never 403 (which would confirm it exists).
 *
 * HTML bodies go out as the sender wrote them: the UI sanitizes them (DOMPurify) and shows them
 * in a sandboxed iframe without scripts. Downloads are always `attachment` with `nosniff` and a
 * `sandbox` CSP, so no attachment ever renders as a page of this origin.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { attachmentDisposition } from './content-disposition.js';
import { caller, HttpError, notFound, str, type WebContext } from './context.js';
import { addressText } from './messages.js';

/** Mailboxes every user has (created on first listing). */
export const SPECIAL_MAILBOXES = ['INBOX', 'Sent', 'Drafts', 'Trash'] as const;
const MAX_MAILBOX_NAME = 100;
const SYSTEM_FLAGS = new Set(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft']);

function flagList(v: unknown, name: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > 20) throw new HttpError(400, `${name} must be a list of flags`);
  return v.map((f) => {
    const s = str(f, name, 64);
    if (!SYSTEM_FLAGS.has(s) && !/^[A-Za-z0-9$_.-]+$/.test(s)) throw new HttpError(400, `bad flag ${s}`);
    return s;
  });
}

function mailboxName(v: unknown): string {
  const name = str(v, 'mailbox', MAX_MAILBOX_NAME).trim();
  if (!name || /[\u0000-\u001f\u007f]/.test(name)) throw new HttpError(400, 'bad mailbox name');
  return name;
}

export function mailRoutes(app: FastifyInstance, ctx: WebContext): void {
  const { store, reader } = ctx;

  const ownedOr404 = async (userId: number, id: string) => {
    const m = await reader.owned(userId, id);
    if (!m) throw notFound('no such message');
    return m;
  };

  app.get('/api/mailboxes', async (req) => {
    const { user } = caller(req);
    for (const name of SPECIAL_MAILBOXES) await store.mailboxes.ensure(user.id, name);
    const boxes = await store.mailboxes.list(user.id);
    const out = [];
    for (const b of boxes) {
      const msgs = await store.messages.list(b.id);
      out.push({
        name: b.name,
        total: msgs.length,
        unseen: msgs.filter((m) => !m.flags.includes('\\Seen')).length,
        uidNext: b.uidNext,
      });
    }
    const rank = (n: string) => {
      const i = (SPECIAL_MAILBOXES as readonly string[]).indexOf(n);
      return i < 0 ? SPECIAL_MAILBOXES.length : i;
    };
    out.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
    return { mailboxes: out };
  });

  app.post('/api/mailboxes', async (req, reply) => {
    const { user } = caller(req);
    const name = mailboxName((req.body as Record<string, unknown> | undefined)?.name);
    if (await store.mailboxes.get(user.id, name)) throw new HttpError(409, 'mailbox exists');
    await store.mailboxes.ensure(user.id, name);
    reply.code(201);
    return { name };
  });

  app.get('/api/mailboxes/:name/messages', async (req) => {
    const { user } = caller(req);
    const { name } = req.params as { name: string };
    const q = req.query as Record<string, string | undefined>;
    const offset = Math.max(0, Number.parseInt(q.offset ?? '0', 10) || 0);
    const limit = Math.min(ctx.limits.maxPage, Math.max(1, Number.parseInt(q.limit ?? '50', 10) || 50));
    const box = await store.mailboxes.get(user.id, name);
    if (!box) throw notFound('no such mailbox');
    const metas = (await store.messages.list(box.id)).reverse(); // newest first
    const search = (q.q ?? '').trim().toLowerCase();
    if (!search) {
      const page = metas.slice(offset, offset + limit);
      const messages = [];
      for (const m of page) messages.push(await reader.summary(m));
      return { total: metas.length, offset, messages };
    }
    // Search looks at sender, recipients and subject of every message (summaries are cached).
    const hits = [];
    for (const m of metas) {
      const s = await reader.summary(m);
      if (`${s.from}\n${s.to}\n${s.subject}`.toLowerCase().includes(search)) hits.push(s);
    }
    return { total: hits.length, offset, messages: hits.slice(offset, offset + limit) };
  });

  app.get('/api/messages/:id', async (req) => {
    const { user } = caller(req);
    const { meta, mailbox } = await ownedOr404(user.id, (req.params as { id: string }).id);
    const p = await reader.parse(meta.id);
    return {
      id: meta.id,
      mailbox: mailbox.name,
      uid: meta.uid,
      size: meta.size,
      flags: meta.flags,
      receivedAt: meta.receivedAt.toISOString(),
      subject: p.subject ?? '',
      from: addressText(p.from),
      to: addressText(p.to),
      cc: addressText(p.cc),
      replyTo: addressText(p.replyTo),
      date: p.date?.toISOString() ?? null,
      messageId: p.messageId ?? null,
      text: p.text ?? null,
      html: p.html ?? null,
      attachments: p.attachments.map((a, index) => ({
        index,
        filename: a.filename ?? null,
        contentType: a.contentType,
        size: a.size,
        inline: a.inline,
        contentId: a.contentId ?? null,
      })),
    };
  });

  app.get('/api/messages/:id/raw', async (req, reply) => {
    const { user } = caller(req);
    const { meta } = await ownedOr404(user.id, (req.params as { id: string }).id);
    reply
      .header('content-type', 'message/rfc822')
      .header('content-length', String(meta.size))
      .header('content-disposition', attachmentDisposition(`message-${meta.uid}.eml`))
      .header('x-content-type-options', 'nosniff');
    return reply.send(Readable.from(store.messages.read(meta.id)));
  });

  app.get('/api/messages/:id/attachments/:index', async (req, reply) => {
    const { user } = caller(req);
    const params = req.params as { id: string; index: string };
    const { meta } = await ownedOr404(user.id, params.id);
    const p = await reader.parse(meta.id);
    const a = /^\d+$/.test(params.index) ? p.attachments[Number(params.index)] : undefined;
    if (!a?.content) throw notFound('no such attachment');
    const type = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(a.contentType)
      ? a.contentType
      : 'application/octet-stream';
    return reply
      .header('content-type', type)
      .header('content-disposition', attachmentDisposition(a.filename))
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "sandbox; default-src 'none'")
      .send(a.content);
  });

  app.post('/api/messages/:id/flags', async (req) => {
    const { user } = caller(req);
    const { meta } = await ownedOr404(user.id, (req.params as { id: string }).id);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const add = flagList(body.add, 'add');
    const remove = new Set(flagList(body.remove, 'remove'));
    const flags = [...new Set([...meta.flags, ...add])].filter((f) => !remove.has(f));
    await store.messages.setFlags(meta.id, flags);
    return { flags };
  });

  app.post('/api/messages/:id/move', async (req) => {
    const { user } = caller(req);
    const { meta } = await ownedOr404(user.id, (req.params as { id: string }).id);
    const to = await store.mailboxes.get(user.id, mailboxName((req.body as Record<string, unknown>)?.to));
    if (!to) throw notFound('no such mailbox');
    if (to.id !== meta.mailboxId) await store.messages.move([meta.id], to.id);
    return { ok: true, mailbox: to.name };
  });

  app.delete('/api/messages/:id', async (req) => {
    const { user } = caller(req);
    const { meta, mailbox } = await ownedOr404(user.id, (req.params as { id: string }).id);
    if (mailbox.name === 'Trash') {
      await store.messages.expunge(mailbox.id, [meta.id]);
      return { ok: true, expunged: true };
    }
    const trash = await store.mailboxes.ensure(user.id, 'Trash');
    await store.messages.move([meta.id], trash.id);
    return { ok: true, expunged: false };
  });
}

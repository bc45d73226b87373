/**
 * Writing mail: send, save a draft, and reply/forward templates built by the MIME engine's reply
 * and forward rules (the same the CLI user agent uses). A message is composed with the MIME
 * composer and submitted in-process through the SMTP backend's session API, exactly as an
 * authenticated SMTP client's would be (MAIL as the user, RCPT per recipient, DATA), so the sender
 * rules, recipient checks, local delivery, the outbound queue and DKIM all apply; then a copy goes
 * to the user's Sent.
 *
 * Failure semantics: a recipient the backend refuses makes the whole send fail (422, with the
 * SMTP reply per refused address) before any data is sent; a DATA failure is 502 with the reply.
 * The Sent copy is stored after the backend accepted the message; if that store write fails the
 * message has still been sent, and the answer says so (`sentCopy: false`). The copy is linked to
 * where each recipient went (store.sent; routes-delivery.ts shows it); a link that cannot be
 * stored is logged and the message shows no status.
 */
import { Readable } from 'node:stream';
import type {} from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { newId } from '../core/index.js';
import {
  buildForward,
  buildReply,
  type ComposeAttachment,
  type ComposeOptions,
  composeMessageToBuffer,
  type Mailbox,
  parseAddressList,
} from '../mime/index.js';
import type { InboundDataResult } from '../mta/inbound/index.js';
import { has8bit } from '../mta/outbound/index.js';
import { SmtpError } from '../smtp/server/backend.js';
import type { SentLink, User } from '../store/types.js';
import { caller, HttpError, notFound, str, type WebContext } from './context.js';

interface ComposeInput {
  to: Mailbox[];
  cc: Mailbox[];
  bcc: Mailbox[];
  subject: string;
  text: string;
  inReplyTo?: string;
  references?: string[];
  forwardOf?: string;
  draftId?: string;
  /** Ask for delivery status notifications (RFC 3461 NOTIFY=SUCCESS,FAILURE). */
  dsn: boolean;
  /** Ask for a read receipt (RFC 8098 Disposition-Notification-To). */
  receipt: boolean;
  files: ComposeAttachment[];
}

const flag = (v: unknown) => v === true || v === 'true' || v === 'on' || v === '1';

function addresses(v: unknown, name: string): Mailbox[] {
  if (v === undefined || v === null || v === '') return [];
  const text = Array.isArray(v) ? v.map((x) => str(x, name)).join(', ') : str(v, name, 64 * 1024);
  const parsed = parseAddressList(text);
  const out: Mailbox[] = [];
  for (const item of parsed.value) {
    for (const m of 'members' in item ? item.members : [item]) {
      if (!/^[^@\s]+@[^@\s]+$/.test(m.address)) throw new HttpError(400, `${name}: bad address ${m.address}`);
      out.push(m);
    }
  }
  if (parsed.defects.length > 0 && out.length === 0) throw new HttpError(400, `${name}: bad address list`);
  return out;
}

function optStr(v: unknown, name: string, max = 998): string | undefined {
  return v === undefined || v === null || v === '' ? undefined : str(v, name, max);
}

function fromFields(f: Record<string, unknown>, files: ComposeAttachment[]): ComposeInput {
  const refs = f.references;
  const input: ComposeInput = {
    to: addresses(f.to, 'to'),
    cc: addresses(f.cc, 'cc'),
    bcc: addresses(f.bcc, 'bcc'),
    subject: optStr(f.subject, 'subject') ?? '',
    text: optStr(f.text, 'text', 10 * 1024 * 1024) ?? '',
    dsn: flag(f.dsn),
    receipt: flag(f.receipt),
    files,
  };
  const irt = optStr(f.inReplyTo, 'inReplyTo');
  if (irt) input.inReplyTo = irt;
  if (Array.isArray(refs)) input.references = refs.map((r) => str(r, 'references'));
  else if (typeof refs === 'string' && refs.trim()) input.references = refs.trim().split(/\s+/);
  const fwd = optStr(f.forwardOf, 'forwardOf', 200);
  if (fwd) input.forwardOf = fwd;
  const draft = optStr(f.draftId, 'draftId', 200);
  if (draft) input.draftId = draft;
  return input;
}

/** The compose fields from a JSON body or a multipart form (fields plus `attachment` files). */
async function readInput(req: FastifyRequest, ctx: WebContext): Promise<ComposeInput> {
  if (!req.isMultipart()) return fromFields((req.body ?? {}) as Record<string, unknown>, []);
  const fields: Record<string, unknown> = {};
  const files: ComposeAttachment[] = [];
  let total = 0;
  for await (const part of req.parts()) {
    if (part.type === 'file') {
      if (files.length >= ctx.limits.maxAttachments) throw new HttpError(413, 'too many attachments');
      const content = await part.toBuffer();
      total += content.length;
      if (total > ctx.limits.maxMessageBytes) throw new HttpError(413, 'message too large');
      files.push({
        content,
        filename: part.filename,
        contentType: part.mimetype || 'application/octet-stream',
      });
    } else {
      const v = part.value;
      if (fields[part.fieldname] === undefined) fields[part.fieldname] = v;
      else fields[part.fieldname] = [fields[part.fieldname], v].flat();
    }
  }
  return fromFields(fields, files);
}

async function compose(ctx: WebContext, user: User, input: ComposeInput): Promise<Buffer> {
  const opts: ComposeOptions = {
    from: { address: user.address },
    to: input.to.length ? input.to : undefined,
    cc: input.cc.length ? input.cc : undefined,
    subject: input.subject,
    text: input.text,
    domain: user.address.split('@')[1],
  };
  if (input.inReplyTo) opts.inReplyTo = input.inReplyTo;
  if (input.references) opts.references = input.references;
  if (input.receipt) opts.headers = { 'Disposition-Notification-To': user.address };
  const attachments: ComposeAttachment[] = [...input.files];
  if (input.forwardOf) {
    const orig = await ctx.reader.owned(user.id, input.forwardOf);
    if (!orig) throw notFound('no such message to forward');
    const p = await ctx.reader.parse(orig.meta.id);
    for (const a of p.attachments) {
      if (a.content)
        attachments.push({ content: a.content, filename: a.filename, contentType: a.contentType });
    }
  }
  if (attachments.length) opts.attachments = attachments;
  const buf = await composeMessageToBuffer(opts);
  if (buf.length > ctx.limits.maxMessageBytes) throw new HttpError(413, 'message too large');
  return buf;
}

/** Stores bytes as a new message in one of the user's mailboxes; returns its id. */
async function storeCopy(ctx: WebContext, user: User, mailbox: string, flags: string[], bytes: Buffer) {
  const d = await ctx.store.openDelivery({
    targets: [{ userId: user.id, mailbox, flags }],
    envelope: { mailFrom: user.address, rcptTo: [] },
  });
  try {
    await d.write(bytes);
    return (await d.commit()).messages[0]!.id;
  } catch (err) {
    await d.abort().catch(() => {});
    throw err;
  }
}

async function dropDraft(ctx: WebContext, user: User, draftId: string | undefined): Promise<void> {
  if (!draftId) return;
  const d = await ctx.reader.owned(user.id, draftId);
  if (d && d.mailbox.name === 'Drafts') await ctx.store.messages.expunge(d.mailbox.id, [d.meta.id]);
}

export function sendRoutes(app: FastifyInstance, ctx: WebContext): void {
  app.post('/api/send', async (req) => {
    const { user } = caller(req);
    const input = await readInput(req, ctx);
    const rcpts = [...input.to, ...input.cc, ...input.bcc].map((m) => m.address);
    if (rcpts.length === 0) throw new HttpError(400, 'no recipients');
    const bytes = await compose(ctx, user, input);
    let link: SentLink | undefined;
    const session = await ctx.backend.newSession({
      id: newId('web'),
      remoteAddress: req.ip,
      remotePort: 0,
      localAddress: '127.0.0.1',
      localPort: 0,
      listener: 'web',
      tls: ctx.secure,
      helo: ctx.hostname,
      esmtp: true,
      authUser: user.address,
    });
    try {
      try {
        // The composer encodes non-ASCII text, so 8BITMIME is declared only when really needed.
        const body = has8bit(bytes) ? '8BITMIME' : '7BIT';
        await session.mail(user.address, {
          raw: { SIZE: String(bytes.length), BODY: body },
          size: bytes.length,
          body,
        });
      } catch (err) {
        if (err instanceof SmtpError) throw new HttpError(422, `sender refused: ${err.message}`);
        throw err;
      }
      const refused: Array<{ address: string; reply: string }> = [];
      for (const r of [...new Set(rcpts.map((a) => a.toLowerCase()))]) {
        try {
          await session.rcpt(
            r,
            input.dsn ? { notify: ['SUCCESS', 'FAILURE'], raw: { NOTIFY: 'SUCCESS,FAILURE' } } : { raw: {} },
          );
        } catch (err) {
          if (!(err instanceof SmtpError)) throw err;
          refused.push({ address: r, reply: `${err.reply.code} ${err.reply.enhanced ?? ''} ${err.message}` });
        }
      }
      if (refused.length) {
        const e = new HttpError(422, `recipients refused: ${refused.map((r) => r.address).join(', ')}`);
        (e as HttpError & { refused?: unknown }).refused = refused;
        throw e;
      }
      try {
        const done = await session.data(Readable.from([bytes]));
        if (done && 'delivery' in done) link = (done as InboundDataResult).delivery;
      } catch (err) {
        if (err instanceof SmtpError) throw new HttpError(502, `not accepted: ${err.message}`);
        throw err;
      }
    } finally {
      await session.logout();
    }
    let sentCopy = true;
    let id: string | undefined;
    try {
      id = await storeCopy(ctx, user, 'Sent', ['\\Seen'], bytes);
      if (link) {
        const sentId = id;
        await ctx.store.sent
          .link(sentId, link)
          .catch((err) =>
            ctx.logger.warn({ err, user: user.address, id: sentId }, 'web: sent link not stored'),
          );
      }
      await dropDraft(ctx, user, input.draftId);
    } catch (err) {
      sentCopy = false;
      ctx.logger.error({ err, user: user.address }, 'web: sent copy not stored');
    }
    ctx.logger.info({ user: user.address, rcpt: rcpts.length, size: bytes.length }, 'web: message sent');
    return { ok: true, id: id ?? null, sentCopy };
  });

  app.post('/api/drafts', async (req, reply) => {
    const { user } = caller(req);
    const input = await readInput(req, ctx);
    const bytes = await compose(ctx, user, input);
    const id = await storeCopy(ctx, user, 'Drafts', ['\\Draft', '\\Seen'], bytes);
    await dropDraft(ctx, user, input.draftId);
    reply.code(201);
    return { id };
  });

  /** Prefilled fields for reply (`mode=reply|all`) or forward, by the shared reply/forward rules. */
  app.get('/api/messages/:id/template', async (req) => {
    const { user } = caller(req);
    const m = await ctx.reader.owned(user.id, (req.params as { id: string }).id);
    if (!m) throw notFound('no such message');
    const mode = (req.query as Record<string, string | undefined>).mode ?? 'reply';
    const p = await ctx.reader.parse(m.meta.id);
    const me = { address: user.address };
    const o =
      mode === 'forward'
        ? buildForward(p, me, { to: [], text: '' })
        : buildReply(p, me, { all: mode === 'all', text: '' });
    const list = (v: ComposeOptions['to']) =>
      (Array.isArray(v) ? v : v ? [v] : [])
        .map((x) => (typeof x === 'string' ? x : 'address' in x ? x.address : ''))
        .filter(Boolean)
        .join(', ');
    return {
      to: list(o.to),
      cc: list(o.cc),
      subject: o.subject ?? '',
      text: o.text ?? '',
      inReplyTo: mode === 'forward' ? null : (o.inReplyTo ?? null),
      references: Array.isArray(o.references) ? o.references : o.references ? [o.references] : [],
      forwardOf: mode === 'forward' ? m.meta.id : null,
    };
  });
}

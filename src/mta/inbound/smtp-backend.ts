/**
 * The SMTP server's backend over the store: recipient policy (no open relay, 550 for unknown
 * users, aliases), the submission sender rule (an authenticated user sends as its own addresses
 * and its aliases only), and local delivery.
 *
 * Failure semantics: the message is streamed into an invisible store delivery with the trace
 * headers first; `data()` resolves (and the server says 250) only after the store committed it for
 * every local recipient at once. Any error while streaming aborts the delivery, so a message
 * is either wholly in every mailbox or in none. Store failures become 451 4.3.0 (the client
 * retries); the internal reason goes to the log only.
 */
import type { Readable } from 'node:stream';
import { type ConnInfo, type Logger, newId } from '../../core/index.js';
import type {
  AuthBackend,
  Backend,
  DataResult,
  MailOptions,
  RcptOptions,
  Session,
  SmtpReply,
} from '../../smtp/server/backend.js';
import { SmtpError } from '../../smtp/server/backend.js';
import type { Store, StoredEnvelope, User } from '../../store/types.js';
import type { Authenticator } from '../auth/authenticator.js';
import { resolveRecipient } from './recipients.js';
import { traceHeaders } from './trace.js';

export interface InboundOptions {
  store: Store;
  hostname: string;
  logger: Logger;
  authenticator: Authenticator;
  /** Answer VRFY truthfully (off by default: 252 never tells who exists). */
  vrfy?: boolean;
}

interface Recipient {
  address: string;
  opts: RcptOptions;
  users: User[];
}

function temporaryFailure(): SmtpError {
  return new SmtpError(451, '4.3.0', 'Temporary local problem, please try again later');
}

export class InboundBackend implements Backend {
  readonly auth: AuthBackend;

  constructor(private readonly opts: InboundOptions) {
    this.auth = {
      authenticate: (username, password) => opts.authenticator.authenticate(username, password),
    };
  }

  newSession(conn: ConnInfo): Session {
    return new InboundSession(this.opts, conn);
  }

  async vrfy(arg: string): Promise<SmtpReply> {
    const generic: SmtpReply = {
      code: 252,
      enhanced: '2.5.2',
      text: 'Cannot VRFY user, but will accept message and attempt delivery',
    };
    if (!this.opts.vrfy) return generic;
    const address = arg.replace(/^<|>$/g, '').trim();
    const r = address.includes('@') ? await resolveRecipient(this.opts.store, address) : { kind: 'remote' };
    return r.kind === 'local' ? { code: 250, enhanced: '2.1.5', text: `<${address}>` } : generic;
  }
}

class InboundSession implements Session {
  private from: string | undefined;
  private mailOpts: MailOptions | undefined;
  private rcpts: Recipient[] = [];
  private readonly log: Logger;

  constructor(
    private readonly opts: InboundOptions,
    private readonly conn: ConnInfo,
  ) {
    this.log = opts.logger.child({ session: conn.id });
  }

  private async guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof SmtpError) throw err;
      this.log.error({ err, what }, 'store failure');
      throw temporaryFailure();
    }
  }

  async mail(from: string, opts: MailOptions): Promise<void> {
    if (this.conn.authUser && from !== '') {
      const ok = await this.guard('sender check', () => this.maySendAs(this.conn.authUser!, from));
      if (!ok)
        throw new SmtpError(553, '5.7.1', `<${from}>: Sender address not owned by ${this.conn.authUser}`);
    }
    this.from = from;
    this.mailOpts = opts;
    this.rcpts = [];
  }

  /** An authenticated user may use its own address and aliases that reach it. */
  private async maySendAs(user: string, from: string): Promise<boolean> {
    if (from.toLowerCase() === user.toLowerCase()) return true;
    const alias = await this.opts.store.aliases.get(from);
    return !!alias?.targets.some((t) => t.toLowerCase() === user.toLowerCase());
  }

  async rcpt(to: string, opts: RcptOptions): Promise<void> {
    const r = await this.guard('recipient lookup', () => resolveRecipient(this.opts.store, to));
    if (r.kind === 'remote') {
      if (this.conn.authUser) {
        throw new SmtpError(
          550,
          '5.7.1',
          `<${to}>: Delivery to other domains is not enabled on this server yet`,
        );
      }
      throw new SmtpError(554, '5.7.1', `<${to}>: Relay access denied`);
    }
    if (r.kind === 'unknown') {
      throw new SmtpError(550, '5.1.1', `<${to}>: Recipient address rejected: User unknown`);
    }
    if (r.users.length === 0) {
      throw new SmtpError(550, '5.7.1', `<${to}>: Forwarding to other domains is not enabled yet`);
    }
    if (r.remote.length) this.log.warn({ rcpt: to, skipped: r.remote }, 'remote alias targets skipped');
    this.rcpts.push({ address: to, opts, users: r.users });
  }

  async data(body: Readable): Promise<DataResult | undefined> {
    const targets = new Map<number, User>();
    for (const r of this.rcpts) for (const u of r.users) targets.set(u.id, u);
    const id = newId();
    const envelope: StoredEnvelope = {
      mailFrom: this.from ?? '',
      rcptTo: this.rcpts.map((r) => r.address),
      mailParams: this.mailOpts?.raw,
      rcptParams: this.rcpts.map((r) => r.opts.raw),
      client: {
        address: this.conn.remoteAddress,
        helo: this.conn.helo,
        tls: this.conn.tls,
        authUser: this.conn.authUser,
      },
    };
    const delivery = await this.guard('open delivery', () =>
      this.opts.store.openDelivery({ targets: [...targets.keys()].map((userId) => ({ userId })), envelope }),
    );
    let committed = false;
    try {
      await delivery.write(
        traceHeaders({
          conn: this.conn,
          hostname: this.opts.hostname,
          mailFrom: envelope.mailFrom,
          recipients: envelope.rcptTo,
          id,
          smtputf8: !!this.mailOpts?.smtputf8,
        }),
      );
      for await (const chunk of body) await delivery.write(chunk as Buffer);
      const result = await delivery.commit();
      committed = true;
      this.log.info(
        {
          id,
          from: envelope.mailFrom,
          rcpt: envelope.rcptTo,
          mailboxes: [...targets.values()].map((u) => u.address),
          size: result.size,
        },
        'delivered',
      );
      return { text: `Ok: queued as ${id}` };
    } catch (err) {
      if (!committed) await delivery.abort().catch(() => {});
      if (err instanceof SmtpError) throw err;
      // A body stream error is the server aborting (size, bare LF, lost connection): it replies.
      if (body.destroyed && body.errored) throw err;
      this.log.error({ err, id }, 'delivery failed');
      throw temporaryFailure();
    }
  }

  reset(): void {
    this.from = undefined;
    this.mailOpts = undefined;
    this.rcpts = [];
  }

  logout(): void {
    this.reset();
  }
}

/**
 * The SMTP server's backend over the store: recipient policy (no open relay, 550 for unknown
 * users, aliases and forwarding), the submission rules (an authenticated user sends as its own
 * addresses and its aliases only, to any domain; Date and Message-ID added when missing, RFC 6409
 * §8; failed AUTH answered after a growing delay per IP and account), and delivery: local
 * recipients into their mailboxes and remote ones (submitted, forwarded through aliases and
 * `user forward` with an SRS sender, or SRS bounces coming back) into the outbound queue — one
 * store commit for all of them, the bytes stored once.
 *
 * Failure semantics: the message is streamed into an invisible store delivery with the trace
 * headers first; `data()` resolves (and the server says 250) only after the store committed it for
 * every recipient at once. Any error while streaming aborts the delivery, so a message is either
 * wholly in every mailbox and the queue or nowhere. Store failures become 451 4.3.0 (the client
 * retries); the internal reason goes to the log only. Success notices (NOTIFY=SUCCESS) for local
 * delivery and vacation auto-replies (vacation.ts) are posted after the commit, never delaying the
 * 250; one lost to a crash right then is not retried. `data()` also tells where each recipient
 * went (InboundDataResult.delivery), which the webmail keeps with the Sent copy.
 */
import type { Readable } from 'node:stream';
import { type ConnInfo, type Logger, newId } from '../../core/index.js';
import { type LoginDelayOptions, LoginDelayPolicy } from '../../pop3/server/login-delay.js';
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
import type {
  CommitResult,
  QueueEntryInput,
  QueueRecipientInput,
  SentLink,
  Store,
  StoredEnvelope,
  User,
} from '../../store/types.js';
import type { Authenticator } from '../auth/authenticator.js';
import { buildDsn } from '../outbound/dsn.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../outbound/policy.js';
import { postNotice } from '../outbound/post.js';
import { srsForward, srsReverse } from '../outbound/srs.js';
import { resolveRecipient, splitAddress } from './recipients.js';
import { HopCounter, MAX_HOPS, withSubmissionFields } from './submission.js';
import { traceHeaders } from './trace.js';
import { VacationResponder } from './vacation.js';

export interface InboundOptions {
  store: Store;
  hostname: string;
  logger: Logger;
  authenticator: Authenticator;
  /** Answer VRFY truthfully (off by default: 252 never tells who exists). */
  vrfy?: boolean;
  /** Queue settings: entries expire after `retry.maxAgeMs`. */
  retry?: Partial<RetryPolicy>;
  /** Secret for SRS (forwarding); without it forwarded mail keeps its original sender. */
  srsSecret?: string;
  /** Called after a commit put something in the queue (wakes the runner). */
  onQueued?: () => void;
  /** Failed-AUTH delays (the POP3 policy, shared code). */
  loginDelay?: LoginDelayOptions | LoginDelayPolicy;
}

/** What `data()` resolves with: the reply text, and where each RCPT went. */
export interface InboundDataResult extends DataResult {
  delivery: SentLink;
}

/** Where a recipient's remote addresses went: entry (position in the queue inputs) and index. */
interface Placed {
  entry: number;
  index: number;
  address: string;
}

/** What a backend's sessions share: the after-commit work (notices, auto-replies) in flight. */
interface Shared {
  vacation: VacationResponder;
  background: Background;
}

interface Recipient {
  address: string;
  opts: RcptOptions;
  users: User[];
  /** Remote addresses this recipient reaches directly (submission) or by forwarding. */
  remote: string[];
  /** The reverse path for the remote ones: the sender, or its SRS form for forwarding. */
  forwarded: boolean;
  /** For an SRS bounce coming back: the original sender to return it to. */
  srsDomain?: string;
}

function temporaryFailure(): SmtpError {
  return new SmtpError(451, '4.3.0', 'Temporary local problem, please try again later');
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * After-commit work in flight, counted: `settle()` only needs to know when none is left, and a Set
 * holding every message's promise is the kind of churning table that V8 keeps alive longer than
 * its entries (see core/live-set.ts).
 */
class Background {
  private running = 0;
  private waiting: (() => void)[] = [];

  /** Counts `work` until it settles (its outcome is the caller's business). */
  track(work: Promise<unknown>): void {
    this.running++;
    const done = () => {
      if (--this.running > 0) return;
      const waiting = this.waiting;
      this.waiting = [];
      for (const wake of waiting) wake();
    };
    work.then(done, done);
  }

  /** Resolves once nothing is running (at once when nothing is). */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

export class InboundBackend implements Backend {
  readonly auth: AuthBackend;
  private readonly delays: LoginDelayPolicy;
  private readonly shared: Shared;

  constructor(private readonly opts: InboundOptions) {
    this.delays =
      opts.loginDelay instanceof LoginDelayPolicy ? opts.loginDelay : new LoginDelayPolicy(opts.loginDelay);
    this.shared = {
      vacation: new VacationResponder({
        store: opts.store,
        hostname: opts.hostname,
        logger: opts.logger,
        retry: { ...DEFAULT_RETRY, ...opts.retry },
        onQueued: opts.onQueued,
      }),
      background: new Background(),
    };
    this.auth = {
      authenticate: async (username, password, conn) => {
        const user = await opts.authenticator.authenticate(username, password);
        if (user) {
          this.delays.succeed(username);
          return user;
        }
        // RFC 4954 §4 leaves the pace to us: slow down guessing per IP and per account.
        const ms = this.delays.fail(conn.remoteAddress, username);
        if (ms > 0) await delay(ms);
        return undefined;
      },
    };
  }

  newSession(conn: ConnInfo): Session {
    return new InboundSession(this.opts, conn, this.shared);
  }

  /** Resolves once the after-commit work started so far (notices, auto-replies) is done. */
  async settle(): Promise<void> {
    await this.shared.background.idle();
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
  private logger: Logger | undefined;
  private readonly retry: RetryPolicy;

  constructor(
    private readonly opts: InboundOptions,
    private readonly conn: ConnInfo,
    private readonly shared: Shared,
  ) {
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
  }

  /** Made on first use: a session that delivers nothing logs nothing here. */
  private get log(): Logger {
    this.logger ??= this.opts.logger.child({ session: this.conn.id });
    return this.logger;
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
    const { local, domain } = splitAddress(to);
    // A bounce to an SRS address of ours goes back to the original sender (only if the hash holds).
    if (this.opts.srsSecret && /^SRS0[=+-]/i.test(local)) {
      const ours = await this.guard('domain lookup', () => this.opts.store.domains.has(domain));
      const original = ours ? srsReverse(to, this.opts.srsSecret) : undefined;
      if (original) {
        this.rcpts.push({
          address: to,
          opts,
          users: [],
          remote: [original],
          forwarded: false,
          srsDomain: domain,
        });
        return;
      }
      if (ours) throw new SmtpError(550, '5.1.1', `<${to}>: Recipient address rejected: invalid SRS address`);
    }
    const r = await this.guard('recipient lookup', () => resolveRecipient(this.opts.store, to));
    if (r.kind === 'remote') {
      if (this.conn.authUser) {
        this.rcpts.push({ address: to, opts, users: [], remote: [to], forwarded: false });
        return;
      }
      throw new SmtpError(554, '5.7.1', `<${to}>: Relay access denied`);
    }
    if (r.kind === 'unknown') {
      throw new SmtpError(550, '5.1.1', `<${to}>: Recipient address rejected: User unknown`);
    }
    this.rcpts.push({ address: to, opts, users: r.users, remote: r.remote, forwarded: r.remote.length > 0 });
  }

  /**
   * The queue entries of this transaction: one per reverse path (sender, or its SRS form); and per
   * RCPT, where its remote addresses were placed.
   */
  private async queueEntries(from: string): Promise<{ entries: QueueEntryInput[]; placed: Placed[][] }> {
    // Local delivery only (the common case): nothing to queue, no sender-domain lookup.
    if (this.rcpts.every((r) => r.remote.length === 0))
      return { entries: [], placed: this.rcpts.map(() => []) };
    const byFrom = new Map<string, QueueRecipientInput[]>();
    const placedFrom = this.rcpts.map(() => [] as Array<{ from: string; index: number; address: string }>);
    const senderIsOurs = from !== '' && (await this.opts.store.domains.has(splitAddress(from).domain));
    for (const [i, r] of this.rcpts.entries()) {
      if (r.remote.length === 0) continue;
      let mailFrom = from;
      if (r.srsDomain !== undefined)
        mailFrom = ''; // returning a bounce: keep it a bounce
      else if (r.forwarded && !senderIsOurs && this.opts.srsSecret) {
        mailFrom = srsForward(from, splitAddress(r.address).domain, this.opts.srsSecret);
      }
      const list = byFrom.get(mailFrom) ?? [];
      for (const address of r.remote) {
        // The same address reached twice (RCPT twice, or by two aliases) is sent once.
        let index = list.findIndex((x) => x.address.toLowerCase() === address.toLowerCase());
        if (index < 0) {
          const q: QueueRecipientInput = { address };
          if (r.opts.notify) q.notify = r.opts.notify;
          q.orcpt = r.opts.orcpt ? `${r.opts.orcpt.type};${r.opts.orcpt.address}` : `rfc822;${r.address}`;
          index = list.push(q) - 1;
        }
        placedFrom[i]!.push({ from: mailFrom, index, address });
      }
      byFrom.set(mailFrom, list);
    }
    const order = [...byFrom.keys()];
    const placed = placedFrom.map((list) =>
      list.map((p) => ({ entry: order.indexOf(p.from), index: p.index, address: p.address })),
    );
    const m = this.mailOpts;
    const expiresAt = new Date(Date.now() + this.retry.maxAgeMs);
    const entries = [...byFrom].map(([mailFrom, recipients]) => {
      const e: QueueEntryInput = {
        mailFrom,
        recipients,
        expiresAt,
        body8bit: m?.body === '8BITMIME' || m?.body === 'BINARYMIME',
        smtputf8: !!m?.smtputf8,
      };
      if (m?.ret) e.ret = m.ret;
      if (m?.envid !== undefined) e.envid = m.envid;
      return e;
    });
    return { entries, placed };
  }

  /** Where each RCPT of the committed transaction went. */
  private sentLink(result: CommitResult, placed: Placed[][]): SentLink {
    return {
      sha256: result.sha256,
      recipients: this.rcpts.map((r, i) => ({
        address: r.address,
        local: r.users.length > 0,
        // Never throws: it runs after the commit, where a failure must not turn into a 451.
        queued: placed[i]!.flatMap((p) => {
          const queueId = result.queued?.[p.entry];
          return queueId === undefined ? [] : [{ queueId, index: p.index, address: p.address }];
        }),
      })),
    };
  }

  /** Runs after-commit work without holding up the reply; `settle()` waits for it. */
  private background(p: Promise<unknown>): void {
    this.shared.background.track(p.catch((err) => this.log.error({ err }, 'after-commit work failed')));
  }

  async data(body: Readable): Promise<InboundDataResult> {
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
    const { entries: queue, placed } = await this.guard('queue entries', () =>
      this.queueEntries(envelope.mailFrom),
    );
    const delivery = await this.guard('open delivery', () =>
      this.opts.store.openDelivery({
        targets: [...targets.keys()].map((userId) => ({ userId })),
        envelope,
        queue,
      }),
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
      const src = this.conn.authUser ? withSubmissionFields(body, this.opts.hostname) : body;
      const hops = new HopCounter();
      for await (const chunk of src) {
        hops.push(chunk as Buffer);
        await delivery.write(chunk as Buffer);
      }
      if (hops.hops >= MAX_HOPS) {
        throw new SmtpError(554, '5.4.6', `Too many hops (${hops.hops} Received fields): mail loop?`);
      }
      const result = await delivery.commit();
      committed = true;
      this.log.info(
        {
          id,
          from: envelope.mailFrom,
          rcpt: envelope.rcptTo,
          mailboxes: [...targets.values()].map((u) => u.address),
          queued: result.queued,
          size: result.size,
        },
        'delivered',
      );
      if (result.queued?.length) this.opts.onQueued?.();
      if (result.messages.length > 0) {
        this.successNotices(envelope, result.messages[0]!.id);
        const users = [...targets.values()];
        const delivered = users.map((user, n) => ({
          user,
          messageId: result.messages[n]!.id,
          rcptTo: this.rcpts.filter((r) => r.users.some((u) => u.id === user.id)).map((r) => r.address),
        }));
        this.background(this.shared.vacation.afterDelivery(envelope.mailFrom, delivered, this.log));
      }
      return { text: `queued as ${id}`, delivery: this.sentLink(result, placed) };
    } catch (err) {
      if (!committed) await delivery.abort().catch(() => {});
      if (err instanceof SmtpError) throw err;
      // A body stream error is the server aborting (size, bare LF, lost connection): it replies.
      if (body.destroyed && body.errored) throw err;
      this.log.error({ err, id }, 'delivery failed');
      throw temporaryFailure();
    }
  }

  /** RFC 3461 §6.2.7.1: NOTIFY=SUCCESS recipients delivered to a mailbox here get a notice. */
  private successNotices(envelope: StoredEnvelope, messageId: string): void {
    const mailFrom = envelope.mailFrom;
    const wanted = this.rcpts.filter((r) => r.users.length > 0 && r.opts.notify?.includes('SUCCESS'));
    if (mailFrom === '' || wanted.length === 0) return;
    const store = this.opts.store;
    const dsn = buildDsn({
      reportingMta: this.opts.hostname,
      to: mailFrom,
      ...(this.mailOpts?.envid !== undefined ? { envid: this.mailOpts.envid } : {}),
      arrivalDate: new Date(),
      recipients: wanted.map((r) => ({
        address: r.address,
        ...(r.opts.orcpt ? { orcpt: `${r.opts.orcpt.type};${r.opts.orcpt.address}` } : {}),
        action: 'delivered' as const,
        status: '2.0.0',
      })),
      ret: this.mailOpts?.ret ?? 'HDRS',
      original: () => store.messages.read(messageId),
      original8bit: this.mailOpts?.body === '8BITMIME',
    });
    this.background(
      postNotice(
        {
          store,
          hostname: this.opts.hostname,
          retry: this.retry,
          logger: this.log,
          onQueued: this.opts.onQueued,
        },
        mailFrom,
        dsn.chunks,
        dsn.body8bit,
      ).catch((err) => this.log.error({ err, to: mailFrom }, 'could not post a success notice')),
    );
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

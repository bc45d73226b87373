/**
 * A real, complete in-memory SMTP backend for tests: local domains and users decide RCPT (550
 * 5.1.1 unknown user, 554 5.7.1 relay refused unless authenticated), AUTH checks a password map,
 * and every accepted message is recorded with its envelope and exact bytes. Aborted bodies are
 * counted, never recorded. Hooks let a test make `data()` slow, fail or refuse.
 */
import type { Readable } from 'node:stream';
import type { ConnInfo } from '../../src/core/index.js';
import {
  type Backend,
  type DataResult,
  type MailOptions,
  type RcptOptions,
  type Session,
  SmtpError,
  type SmtpReply,
} from '../../src/smtp/server/backend.js';

export interface RecordedMessage {
  id: string;
  from: string;
  mailOptions: MailOptions;
  rcpts: Array<{ to: string; opts: RcptOptions }>;
  data: Buffer;
  conn: ConnInfo;
}

export interface MemorySmtpBackendOptions {
  /** Domains we accept mail for. Default ['example.org']. */
  localDomains?: string[];
  /** Existing local mailboxes (lower-case addresses). Default: every address in a local domain. */
  users?: string[];
  /** AUTH user → password; no map means no AUTH support. */
  passwords?: Record<string, string>;
  /** VRFY answers from the user list when true (default: no vrfy, the server says 252). */
  vrfy?: boolean;
}

export class MemorySmtpBackend implements Backend {
  readonly messages: RecordedMessage[] = [];
  /** Bodies whose stream errored (the server aborted them). */
  aborted = 0;
  sessions = 0;
  loggedOut = 0;
  resets = 0;
  /** Called with the body before it is read; may delay, throw or consume it itself. */
  beforeData: ((body: Readable) => Promise<void> | void) | undefined;
  /** Called with the full bytes before recording; throw to refuse after reading. */
  onData: ((data: Buffer) => Promise<void> | void) | undefined;
  /** Refuse new sessions with this error when set. */
  refuseSession: SmtpError | undefined;
  readonly auth: Backend['auth'];
  readonly vrfy: Backend['vrfy'];
  private readonly domains: Set<string>;
  private readonly users: Set<string> | undefined;
  private nextId = 1;

  constructor(opts: MemorySmtpBackendOptions = {}) {
    this.domains = new Set((opts.localDomains ?? ['example.org']).map((d) => d.toLowerCase()));
    this.users = opts.users ? new Set(opts.users.map((u) => u.toLowerCase())) : undefined;
    const passwords = opts.passwords;
    if (passwords) {
      this.auth = {
        authenticate: async (user, password) => (passwords[user] === password ? user : undefined),
      };
    }
    if (opts.vrfy) {
      this.vrfy = async (arg): Promise<SmtpReply> => {
        const a = arg.replace(/^<|>$/g, '').toLowerCase();
        if (this.isLocalUser(a)) return { code: 250, enhanced: '2.1.5', text: `<${a}>` };
        return { code: 550, enhanced: '5.1.1', text: 'No such user' };
      };
    }
  }

  isLocalDomain(address: string): boolean {
    return this.domains.has(address.slice(address.lastIndexOf('@') + 1).toLowerCase());
  }

  isLocalUser(address: string): boolean {
    if (!this.isLocalDomain(address)) return false;
    return this.users === undefined || this.users.has(address.toLowerCase());
  }

  newSession(conn: ConnInfo): Session {
    if (this.refuseSession) throw this.refuseSession;
    this.sessions++;
    return new MemorySession(this, conn);
  }

  /** Records a message; returns its id. */
  record(m: Omit<RecordedMessage, 'id'>): string {
    const id = `m${this.nextId++}`;
    this.messages.push({ id, ...m });
    return id;
  }
}

class MemorySession implements Session {
  private from: string | undefined;
  private mailOpts: MailOptions | undefined;
  private rcpts: Array<{ to: string; opts: RcptOptions }> = [];

  constructor(
    private readonly backend: MemorySmtpBackend,
    private readonly conn: ConnInfo,
  ) {}

  async mail(from: string, opts: MailOptions): Promise<void> {
    if (from.toLowerCase().startsWith('blocked@'))
      throw new SmtpError(550, '5.7.1', 'Sender refused', 'test block');
    this.from = from;
    this.mailOpts = opts;
    this.rcpts = [];
  }

  async rcpt(to: string, opts: RcptOptions): Promise<void> {
    if (/^postmaster$/i.test(to)) {
      this.rcpts.push({ to, opts });
      return;
    }
    if (!this.backend.isLocalDomain(to)) {
      if (!this.conn.authUser) throw new SmtpError(554, '5.7.1', 'Relay access denied');
    } else if (!this.backend.isLocalUser(to)) {
      throw new SmtpError(550, '5.1.1', 'No such user here');
    }
    this.rcpts.push({ to, opts });
  }

  async data(body: Readable): Promise<DataResult | undefined> {
    if (this.from === undefined || this.rcpts.length === 0) throw new Error('data() without MAIL/RCPT');
    if (this.backend.beforeData) await this.backend.beforeData(body);
    const chunks: Buffer[] = [];
    try {
      for await (const c of body) chunks.push(c as Buffer);
    } catch (err) {
      this.backend.aborted++;
      throw err;
    }
    if (body.errored) {
      this.backend.aborted++;
      throw body.errored;
    }
    const data = Buffer.concat(chunks);
    if (this.backend.onData) await this.backend.onData(data);
    const id = this.backend.record({
      from: this.from,
      mailOptions: this.mailOpts!,
      rcpts: this.rcpts,
      data,
      conn: { ...this.conn },
    });
    this.rcpts = [];
    return { text: id };
  }

  reset(): void {
    this.backend.resets++;
    this.from = undefined;
    this.rcpts = [];
  }

  logout(): void {
    this.backend.loggedOut++;
  }
}

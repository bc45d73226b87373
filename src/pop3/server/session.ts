/**
 * One POP3 connection (RFC 1939, RFC 2449 CAPA/response codes, RFC 2595 STLS, RFC 5034 AUTH):
 * reads command lines, answers them strictly in order, and walks AUTHORIZATION → TRANSACTION →
 * UPDATE.
 *
 * Failure semantics:
 * - Deletions happen only in UPDATE (QUIT in TRANSACTION) through `maildrop.commit`; `+OK` is sent
 *   only after it resolved. A dropped connection, an idle timeout, a limit or a server shutdown
 *   releases the maildrop and deletes nothing.
 * - `Pop3Error`s from the backend are answered with their code; anything else is logged with the
 *   session id and answered `-ERR [SYS/TEMP]`, never echoing internals. A failure in the middle of
 *   a RETR/TOP body cannot be answered (the +OK is out), so the connection is closed instead.
 * - Pipelining (RFC 2449 §6.6): input is queued and handled one command at a time; the socket is
 *   paused once MAX_QUEUED_COMMANDS wait, and a RETR waits for 'drain', so a client that pipelines
 *   faster than we answer (or reads slowly during a RETR) is held back by TCP, not by our memory.
 *
 * Leniency, written down: command lines may end in a bare LF (telnet clients); lines longer than
 * RFC 2449's 255 octets are accepted up to `maxCommandLength`. Plain-text logins (USER/PASS,
 * AUTH PLAIN/LOGIN) need TLS unless the client is trusted (loopback by default) or the server
 * allows them; CAPA then leaves USER and SASL out, as RFC 2595 §4 suggests.
 */
import { createHash, randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import {
  type ConnInfo,
  isLoopback,
  type Logger,
  messageDataLine,
  TRACE_MASK,
  type TraceObserver,
  traceReply,
} from '../../core/index.js';
import { createSaslServer, SASL_MECHANISMS, type SaslServer, type SaslStep } from '../../wire/sasl.js';
import {
  asBuffer,
  BodyEncoder,
  formatContinuation,
  formatErr,
  formatMultiline,
  formatOk,
  type Pop3Command,
  parseCommand,
  RESP_CODES,
} from '../codec/index.js';
import { type Pop3Backend, Pop3Error } from './backend.js';
import type { LoginDelayPolicy } from './login-delay.js';
import type { Pop3ApopBackend, Pop3Limits } from './options.js';
import { maskPop3Command } from './trace.js';
import { MaildropView, type StreamReply } from './transaction.js';

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);
const TOO_LONG = Symbol('too-long');
/** Pipelined commands queued before the socket is paused (RFC 2449 §6.6 allows any number). */
const MAX_QUEUED_COMMANDS = 32;
/** RETR/TOP output gathered per socket write: small messages go out in one write. */
const OUT_BATCH = 64 * 1024;
type Input = string | typeof TOO_LONG;

export interface SessionContext {
  hostname: string;
  backend: Pop3Backend;
  log: Logger;
  limits: Pop3Limits;
  delays: LoginDelayPolicy;
  allowPlainAuthWithoutTls: boolean;
  isTrustedClient: (conn: ConnInfo) => boolean;
  apop: boolean;
  secureContext(): SecureContext | undefined;
  /** Hears every line, secrets masked; unset costs nothing. */
  onTrace?: TraceObserver;
}

type State = 'authorization' | 'transaction' | 'update' | 'closed';

export class Pop3Session {
  private socket: Socket;
  private buf: Buffer = EMPTY;
  private discarding = false;
  private readonly queue: Input[] = [];
  private busy = false;
  private paused = false;
  private state: State = 'authorization';
  private user: string | undefined;
  private sasl: SaslServer | undefined;
  private view: MaildropView | undefined;
  private released = false;
  private apopTimestamp: string | undefined;
  private commands = 0;
  private longLines = 0;
  private badCommands = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private shuttingDown = false;
  private readonly log: Logger;
  private resolveClosed!: () => void;
  /** Resolves once the connection is closed and the maildrop (if any) released. */
  readonly closed = new Promise<void>((r) => (this.resolveClosed = r));

  constructor(
    socket: Socket,
    readonly conn: ConnInfo,
    private readonly ctx: SessionContext,
  ) {
    this.socket = socket;
    this.log = ctx.log.child({ session: conn.id });
    this.attach(socket);
  }

  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private readonly onClose = () => void this.finish('connection closed');
  private readonly onError = (err: Error) => this.log.debug({ err: err.message }, 'pop3 socket error');

  private attach(s: Socket) {
    s.on('data', this.onData);
    s.on('close', this.onClose);
    s.on('error', this.onError);
  }

  private detach(s: Socket) {
    s.removeListener('data', this.onData);
    s.removeListener('close', this.onClose);
    s.removeListener('error', this.onError);
  }

  /** Sends the greeting (RFC 1939 §4), with an APOP timestamp only when APOP is on. */
  start(): void {
    let greeting = 'Posthorn POP3 server ready';
    if (this.apopEnabled) {
      this.apopTimestamp = `<${process.pid}.${Date.now()}${randomInt(1e6)}@${this.ctx.hostname}>`;
      greeting += ` ${this.apopTimestamp}`;
    }
    this.log.info(
      { remote: this.conn.remoteAddress, listener: this.conn.listener, tls: this.conn.tls },
      'pop3 connect',
    );
    if (this.ctx.onTrace) {
      this.ctx.onTrace({ type: 'open', protocol: 'pop3', conn: this.conn });
      traceReply(this.ctx.onTrace, this.conn, formatOk(greeting));
    }
    this.socket.write(formatOk(greeting));
    this.armIdle();
  }

  /** Graceful stop: an idle session is told and closed now; a busy one after its current command. */
  shutdown(): void {
    this.shuttingDown = true;
    if (!this.busy && this.state !== 'closed') {
      this.socket.write(formatErr('Server shutting down', RESP_CODES.sysTemp));
      void this.finish('server shutdown');
    }
  }

  /** Cuts the connection now (after the shutdown grace); nothing is deleted. */
  destroy(): void {
    this.socket.destroy();
    void this.finish('destroyed');
  }

  private get apopEnabled(): boolean {
    return this.ctx.apop && typeof (this.ctx.backend as Partial<Pop3ApopBackend>).apopSecret === 'function';
  }

  private get plainAllowed(): boolean {
    return this.conn.tls || this.ctx.allowPlainAuthWithoutTls || this.ctx.isTrustedClient(this.conn);
  }

  // ---- input -------------------------------------------------------------------------------

  private receive(chunk: Buffer) {
    if (this.state === 'closed') return;
    this.armIdle();
    const buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const max = this.ctx.limits.maxCommandLength;
    let start = 0;
    let lf = buf.indexOf(LF);
    while (lf >= 0) {
      if (this.discarding) {
        this.discarding = false;
        this.queue.push(TOO_LONG);
      } else if (lf + 1 - start > max) {
        this.queue.push(TOO_LONG);
      } else {
        const end = lf > start && buf[lf - 1] === CR ? lf - 1 : lf;
        this.queue.push(buf.toString('utf8', start, end));
      }
      start = lf + 1;
      lf = buf.indexOf(LF, start);
    }
    this.buf = start === 0 ? buf : buf.subarray(start);
    if (this.buf.length > max) {
      // Drop the over-long line as it comes instead of buffering it; answer when its LF arrives.
      this.discarding = true;
      this.buf = EMPTY;
    }
    if (this.queue.length) {
      // Pipelined commands wait here; past a bound, TCP holds the client back, not our memory.
      if (this.queue.length >= MAX_QUEUED_COMMANDS && !this.paused) {
        this.paused = true;
        this.socket.pause();
      }
      void this.run();
    }
  }

  private async run() {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length && this.state !== 'closed') {
        const item = this.queue.shift()!;
        await this.handle(item);
        if (this.shuttingDown && (this.state as State) !== 'closed') {
          await this.out(formatErr('Server shutting down', RESP_CODES.sysTemp));
          await this.finish('server shutdown');
        }
      }
    } catch (err) {
      if (!(err instanceof StreamAbort))
        this.log.error({ err: (err as Error).message }, 'pop3 session failed');
      this.socket.destroy();
      await this.finish('internal error');
    } finally {
      this.busy = false;
      if (this.state !== 'closed') {
        if (this.paused) {
          this.paused = false;
          this.socket.resume();
        }
        this.armIdle();
      }
    }
  }

  // ---- output ------------------------------------------------------------------------------

  /** Writes with backpressure: waits for 'drain' (or the end of the connection, or a stall timeout). */
  async out(data: string | Buffer): Promise<void> {
    const s = this.socket;
    if (this.state === 'closed' || s.destroyed) return;
    // Buffers are message content (RETR/TOP), traced only as their size by outStream.
    if (this.ctx.onTrace && typeof data === 'string') traceReply(this.ctx.onTrace, this.conn, data);
    if (s.write(data)) return;
    await this.drained();
  }

  /** Writes message parts in one system call (writev), without copying them together. */
  private async outParts(parts: Buffer[]): Promise<void> {
    const s = this.socket;
    if (this.state === 'closed' || s.destroyed) return;
    if (parts.length === 1) return this.out(parts[0]!);
    s.cork();
    for (const p of parts) s.write(p);
    s.uncork();
    if (s.writableNeedDrain) await this.drained();
  }

  private drained(): Promise<void> {
    const s = this.socket;
    return new Promise<void>((resolve) => {
      // A client that stops reading mid-RETR must not hold its maildrop lock forever.
      const stall = setTimeout(() => {
        this.log.info('pop3 write stalled; closing');
        s.destroy();
      }, this.ctx.limits.idleTimeoutMs);
      const done = () => {
        clearTimeout(stall);
        s.removeListener('drain', done);
        s.removeListener('close', done);
        resolve();
      };
      s.on('drain', done);
      s.on('close', done);
    });
  }

  /**
   * Sends a stored message as a multi-line response: +OK line, stuffed body, terminator. The
   * first chunk is read before anything goes out, so a message that cannot be opened gets -ERR
   * (the error propagates). Output is gathered into writes of up to OUT_BATCH octets: a small
   * message leaves in one write, a large one streams with backpressure. Returns false if the
   * body failed after part of the response was sent (only closing the connection can say so).
   */
  async outStream(reply: StreamReply): Promise<boolean> {
    const it = reply.source[Symbol.asyncIterator]();
    let r = await it.next();
    if (this.ctx.onTrace) traceReply(this.ctx.onTrace, this.conn, reply.first);
    const enc = new BodyEncoder(reply.topLines);
    let parts: Buffer[] = [Buffer.from(reply.first, 'latin1')];
    let pending = parts[0]!.length;
    let sent = false;
    let octets = 0;
    try {
      while (!r.done) {
        if (this.state === 'closed') {
          await it.return?.();
          return true;
        }
        const out = enc.push(asBuffer(r.value));
        if (out.length) {
          octets += out.length;
          parts.push(out);
          pending += out.length;
        }
        // TOP needs no more of the message: stop reading it.
        if (enc.done) {
          await it.return?.();
          break;
        }
        if (pending >= OUT_BATCH) {
          sent = true;
          await this.outParts(parts);
          parts = [];
          pending = 0;
        }
        r = await it.next();
      }
    } catch (err) {
      if (!sent) throw err;
      this.log.error({ err: (err as Error)?.message }, 'pop3 message read failed mid-response');
      return false;
    }
    parts.push(enc.end());
    // A small response is copied into one buffer (cheaper than writev); a large one is not.
    await (pending < OUT_BATCH / 4 ? this.out(Buffer.concat(parts)) : this.outParts(parts));
    if (this.ctx.onTrace) this.traceLine('S', messageDataLine(octets));
    return true;
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** (Re)starts the idle clock; one timer per session, refreshed rather than re-created. */
  private armIdle() {
    if (this.state === 'closed') return;
    if (this.idleTimer) {
      this.idleTimer.refresh();
      return;
    }
    this.idleTimer = setTimeout(() => {
      // A command in progress (a long RETR to a slow reader) has its own write-stall limit.
      if (this.busy) return void this.idleTimer?.refresh();
      this.log.info('pop3 idle timeout');
      this.socket.write(formatErr('Autologout; idle for too long'));
      void this.finish('idle timeout');
    }, this.ctx.limits.idleTimeoutMs);
    this.idleTimer.unref?.();
  }

  private clearIdle() {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Releases the maildrop once, deleting nothing. */
  private async release() {
    if (this.released || !this.view) return;
    this.released = true;
    try {
      await this.view.maildrop.release();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'pop3 maildrop release failed');
    }
  }

  private async finish(why: string) {
    if (this.state === 'closed') return;
    const wasUpdate = this.state === 'update';
    this.state = 'closed';
    this.clearIdle();
    this.queue.length = 0;
    this.socket.end();
    // Sockets that never finish closing (a peer that stopped reading) are cut after a while.
    setTimeout(() => this.socket.destroy(), 5000).unref();
    await this.release();
    this.log.info({ reason: why, update: wasUpdate }, 'pop3 disconnect');
    if (this.ctx.onTrace) this.ctx.onTrace({ type: 'close', conn: this.conn });
    this.resolveClosed();
  }

  // ---- dispatch ----------------------------------------------------------------------------

  private async handle(item: Input): Promise<void> {
    if (this.ctx.onTrace) {
      // A SASL exchange line is a credential whatever it looks like.
      const text = item === TOO_LONG ? '<line too long>' : this.sasl ? TRACE_MASK : maskPop3Command(item);
      this.traceLine('C', text);
    }
    if (item === TOO_LONG) {
      this.longLines++;
      this.sasl = undefined;
      await this.out(formatErr('Command line too long'));
      if (this.longLines >= this.ctx.limits.maxLongLines) await this.finish('too many long lines');
      return;
    }
    if (++this.commands > this.ctx.limits.maxCommandsPerSession) {
      await this.out(formatErr('Too many commands in this session', RESP_CODES.sysPerm));
      await this.finish('command limit');
      return;
    }
    try {
      if (this.sasl) return await this.saslLine(item);
      const cmd = parseCommand(item);
      if (!cmd) return await this.bad('Unknown command');
      if (this.state === 'authorization') return await this.authorization(cmd);
      if (this.state === 'transaction') return await this.transaction(cmd);
    } catch (err) {
      if (err instanceof StreamAbort) throw err;
      if (err instanceof Pop3Error) {
        this.log.warn({ code: err.code, reason: err.reason ?? err.message }, 'pop3 backend refused');
        await this.out(formatErr(err.message, err.code));
      } else {
        this.log.error({ err: (err as Error)?.message }, 'pop3 command failed');
        await this.out(formatErr('Temporary server error, try again later', RESP_CODES.sysTemp));
      }
    }
  }

  private traceLine(dir: 'C' | 'S', line: string) {
    this.ctx.onTrace!({ type: 'line', conn: this.conn, dir, line });
  }

  private async bad(text: string) {
    await this.out(formatErr(text));
    if (++this.badCommands >= this.ctx.limits.maxBadCommands) await this.finish('too many bad commands');
  }

  private capa(): string {
    const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
    if (this.state === 'authorization') {
      if (this.plainAllowed) caps.push('USER', `SASL ${SASL_MECHANISMS.join(' ')}`);
      if (this.ctx.secureContext() && !this.conn.tls) caps.push('STLS');
    }
    caps.push('IMPLEMENTATION Posthorn');
    return formatMultiline('Capability list follows', caps);
  }

  private async authorization(cmd: Pop3Command) {
    switch (cmd.keyword) {
      case 'CAPA':
        return this.out(this.capa());
      case 'QUIT':
        await this.out(formatOk('Posthorn POP3 server signing off'));
        return this.finish('quit');
      case 'USER':
        this.user = undefined;
        if (!this.plainAllowed) return this.out(formatErr(PLAIN_REFUSED, RESP_CODES.auth));
        if (cmd.rest.trim() === '') return this.bad('USER needs a name');
        this.user = cmd.rest.trim();
        return this.out(formatOk('Send PASS'));
      case 'PASS': {
        if (!this.plainAllowed) return this.out(formatErr(PLAIN_REFUSED, RESP_CODES.auth));
        const user = this.user;
        this.user = undefined;
        if (user === undefined) return this.bad('Send USER first');
        return this.login(user, cmd.rest);
      }
      case 'AUTH':
        return this.auth(cmd);
      case 'APOP':
        if (!this.apopEnabled) return this.bad('Unknown command');
        return this.apop(cmd);
      case 'STLS':
        return this.stls();
      case 'STAT':
      case 'LIST':
      case 'RETR':
      case 'DELE':
      case 'NOOP':
      case 'RSET':
      case 'TOP':
      case 'UIDL':
        return this.bad('Not allowed before login');
      default:
        return this.bad('Unknown command');
    }
  }

  private async transaction(cmd: Pop3Command) {
    const view = this.view!;
    switch (cmd.keyword) {
      case 'CAPA':
        return this.out(this.capa());
      case 'QUIT':
        return this.update();
      case 'USER':
      case 'PASS':
      case 'APOP':
      case 'AUTH':
      case 'STLS':
        return this.bad('Already logged in');
      default: {
        const reply = view.command(cmd);
        if (reply === undefined) return this.bad('Unknown command');
        if (typeof reply === 'string') return this.out(reply);
        if (await this.outStream(reply)) return;
        // The +OK is out; the only honest signal left is to close without the terminator.
        await this.finish('read failed');
        throw new StreamAbort();
      }
    }
  }

  // ---- authentication ----------------------------------------------------------------------

  private async auth(cmd: Pop3Command) {
    const [mech, initial, extra] = cmd.args;
    if (mech === undefined) return this.out(formatMultiline('SASL mechanisms follow', [...SASL_MECHANISMS]));
    if (!this.plainAllowed) return this.out(formatErr(PLAIN_REFUSED, RESP_CODES.auth));
    const sasl = extra === undefined ? createSaslServer(mech) : undefined;
    if (!sasl) return this.bad('Unsupported SASL mechanism');
    this.sasl = sasl;
    return this.saslStep(sasl.start(initial));
  }

  private async saslLine(line: string) {
    return this.saslStep(this.sasl!.respond(line.trim()));
  }

  private async saslStep(step: SaslStep) {
    if (step.type === 'challenge') return this.out(formatContinuation(step.data));
    this.sasl = undefined;
    if (step.type === 'failure') {
      if (step.reason === 'cancelled') return this.out(formatErr('Authentication cancelled'));
      return this.out(formatErr(`Invalid SASL response: ${step.message}`, RESP_CODES.auth));
    }
    const { authzid, authcid, password } = step.credentials;
    // No proxy authorization: acting as another user is refused, like a bad password.
    if (authzid !== '' && authzid !== authcid) return this.failLogin(authcid);
    return this.login(authcid, password);
  }

  private async apop(cmd: Pop3Command) {
    const [name, digest] = cmd.args;
    if (!name || !digest || cmd.args.length !== 2) return this.bad('APOP needs a name and a digest');
    const backend = this.ctx.backend as Pop3ApopBackend;
    const found = await backend.apopSecret(name, this.conn);
    const expected = found && createHash('md5').update(`${this.apopTimestamp}${found.secret}`).digest('hex');
    if (!found || expected !== digest.toLowerCase()) return this.failLogin(name);
    return this.open(name, found.account);
  }

  private async login(user: string, password: string) {
    const account = await this.ctx.backend.authenticate(user, password, this.conn);
    if (this.state !== 'authorization') return;
    if (account === undefined) return this.failLogin(user);
    return this.open(user, account);
  }

  private async failLogin(user: string) {
    const delayMs = this.ctx.delays.fail(this.conn.remoteAddress, user);
    this.log.warn({ user, remote: this.conn.remoteAddress, delayMs }, 'pop3 login failed');
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    await this.out(formatErr('Authentication failed', RESP_CODES.auth));
  }

  private async open(user: string, account: string) {
    this.ctx.delays.succeed(user);
    const maildrop = await this.ctx.backend.openMaildrop(account, this.conn);
    if (this.state !== 'authorization') {
      // The client went away while we waited for the lock: give it straight back.
      await maildrop.release();
      return;
    }
    this.view = new MaildropView(maildrop);
    this.conn.authUser = account;
    this.state = 'transaction';
    this.log.info({ account, messages: this.view.count }, 'pop3 login');
    return this.out(formatOk(`${account} has ${this.view.stat()}`));
  }

  private async stls() {
    const ctx = this.ctx.secureContext();
    if (this.conn.tls) return this.bad('Already using TLS');
    if (!ctx) return this.bad('STLS not available');
    // RFC 2595 §4: anything the client pipelined after STLS is discarded, never read as commands:
    // nothing more is read from the plain socket (the session resumes the TLS one when done).
    this.socket.pause();
    this.paused = true;
    await this.out(formatOk('Begin TLS negotiation'));
    this.queue.length = 0;
    this.buf = EMPTY;
    this.discarding = false;
    const raw = this.socket;
    await new Promise<void>((resolve) => raw.write(EMPTY, () => resolve()));
    this.detach(raw);
    const secure = new TLSSocket(raw, { isServer: true, secureContext: ctx });
    this.socket = secure;
    this.attach(secure);
    secure.pause();
    const ok = await new Promise<boolean>((resolve) => {
      secure.once('secure', () => resolve(true));
      secure.once('close', () => resolve(false));
      secure.once('error', () => resolve(false));
    });
    if (!ok) {
      this.log.info('pop3 STLS handshake failed');
      return this.finish('tls handshake failed');
    }
    this.conn.tls = true;
    this.user = undefined;
    this.log.info({ protocol: secure.getProtocol() }, 'pop3 STLS');
  }

  // ---- UPDATE ------------------------------------------------------------------------------

  private async update() {
    const view = this.view!;
    this.state = 'update';
    const deleted = view.deletedNumbers();
    try {
      if (deleted.length) await view.maildrop.commit(deleted);
    } catch (err) {
      const code = err instanceof Pop3Error && err.code ? err.code : RESP_CODES.sysTemp;
      this.log.error({ err: (err as Error)?.message, deleted: deleted.length }, 'pop3 commit failed');
      await this.release();
      await this.out(formatErr('Some deleted messages were not removed', code));
      return this.finish('commit failed');
    }
    // Released before +OK so the client can log in again the moment it reads the answer.
    await this.release();
    this.log.info({ deleted: deleted.length }, 'pop3 update');
    await this.out(formatOk(`Posthorn POP3 server signing off (${view.count} messages left)`));
    return this.finish('quit');
  }
}

const PLAIN_REFUSED = 'Plain-text login needs TLS; use STLS first';

/** Thrown after a mid-body failure closed the connection; stops the command loop. */
class StreamAbort extends Error {}

/** Default trust decision: loopback clients may log in without TLS (the textbook telnet demo). */
export function loopbackTrusted(conn: ConnInfo): boolean {
  return isLoopback(conn.remoteAddress);
}

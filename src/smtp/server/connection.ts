/**
 * One SMTP session (RFC 5321) over one socket: reads command lines, keeps the state machine
 * (greeting → HELO/EHLO → MAIL → RCPT… → DATA/BDAT), calls the backend and writes the replies.
 * Extensions: PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
 * ENHANCEDSTATUSCODES (RFC 2034/3463), CHUNKING/BINARYMIME (RFC 3030), DSN (RFC 3461),
 * STARTTLS (RFC 3207), AUTH PLAIN/LOGIN (RFC 4954).
 *
 * Failure semantics:
 * - A backend SmtpError becomes its reply; any other backend error is logged with the session id
 *   and answered 451 4.3.0 (never echoing internals); a failing greeting closes the connection.
 * - Command lines must end in CRLF. A line ended by a bare LF is answered 500 5.5.2 and NOT
 *   executed (RFC 5321 §2.3.8: only CRLF ends a line; executing it would let a bare-LF-tolerant
 *   proxy and us disagree about command boundaries). The session goes on.
 * - DATA ends only at CRLF.CRLF (see wire/dot-decoder). A message with a bare CR/LF, NUL or an
 *   over-long line is refused after its real end (554 5.6.0), over-size with 552 5.3.4; the body
 *   stream is destroyed at once so the backend aborts, the rest is read and discarded.
 * - After `maxErrors` error replies, or on a timeout, the server says 421 and closes.
 */
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import {
  type ConnInfo,
  type Logger,
  messageDataLine,
  TRACE_MASK,
  type TraceObserver,
  traceReply,
} from '../../core/index.js';
import { createSaslServer, DotDecoder, type SaslServer, type SaslStep } from '../../wire/index.js';
import { formatEhloReply, mailOptions, parseCommand, rcptOptions, type SmtpCommand } from '../codec/index.js';
import { authAllowed, authRefusal, finishAuth } from './auth.js';
import { type Backend, type MailOptions, type Session, SmtpError, type SmtpReply } from './backend.js';
import { BodyAbortedError, BodyTransfer, type DataVerdict } from './body.js';
import { MAX_PIPELINE_BUFFER, SmtpChannel } from './channel.js';
import type { SmtpLimits, SmtpServerOptions } from './options.js';
import {
  BARE_LINE_END,
  capabilities,
  HELP_TEXT,
  INTERNAL_ERROR,
  NUL_IN_MESSAGE,
  r,
  TOO_BIG,
} from './replies.js';
import { maskSmtpCommand } from './trace.js';

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly options: SmtpServerOptions;
  readonly limits: SmtpLimits;
  readonly logger: Logger;
  readonly tlsContext: SecureContext | undefined;
  readonly closing: boolean;
  release(conn: SmtpConnection): void;
}

interface Transaction {
  from: string;
  opts: MailOptions;
  rcpts: string[];
  /** The body in transfer: DATA until its end, BDAT from the first chunk to LAST. */
  transfer?: BodyTransfer;
  kind?: 'DATA' | 'BDAT';
}

export class SmtpConnection extends SmtpChannel {
  readonly conn: ConnInfo;
  private readonly backend: Backend;
  private session: Session | undefined;
  private ready = false;
  private pumping = false;
  private tx: Transaction | undefined;
  /** mail() was called since the last reset(). */
  private dirty = false;
  private sasl: SaslServer | undefined;
  private shuttingDown = false;
  private readonly startedAt = Date.now();
  private messages = 0;
  private readonly onTrace: TraceObserver | undefined;

  constructor(
    private readonly host: ConnectionHost,
    socket: Socket,
    conn: ConnInfo,
  ) {
    super(socket, host.logger.child({ session: conn.id }), host.limits, host.options.hostname);
    this.conn = conn;
    this.backend = host.options.backend;
    const onTrace = host.options.onTrace;
    this.onTrace = onTrace;
    if (onTrace) this.traceReplies = (text) => traceReply(onTrace, conn, text);
  }

  protected override waitingOnBackend(): boolean {
    return this.pumping && !this.sink;
  }

  protected override closed(): void {
    this.tx?.transfer?.abort(new BodyAbortedError('connection lost', 'CONNECTION_LOST'));
    const s = this.session;
    this.session = undefined;
    if (s) {
      Promise.resolve()
        .then(() => s.logout())
        .catch((err: unknown) => this.log.error({ err }, 'logout failed'));
    }
    this.log.info(
      { remote: this.conn.remoteAddress, messages: this.messages, ms: Date.now() - this.startedAt },
      'disconnect',
    );
    if (this.onTrace) this.onTrace({ type: 'close', conn: this.conn });
    this.host.release(this);
  }

  /** Greets the client (after implicit TLS, if any). */
  async start(): Promise<void> {
    const c = this.conn;
    // One info line per connection (at disconnect) and one per message (from the backend) keeps
    // the log useful without doubling its cost per message.
    this.log.debug({ remote: c.remoteAddress, port: c.remotePort, tls: c.tls }, 'connect');
    if (this.onTrace) this.onTrace({ type: 'open', protocol: 'smtp', conn: c });
    try {
      this.session = await this.backend.newSession(c);
    } catch (err) {
      if (err instanceof SmtpError) this.write(err.reply);
      else {
        this.log.error({ err }, 'newSession failed');
        this.write(r(421, '4.3.0', `${this.hostname} Service not available, try again later`));
      }
      this.end();
      return;
    }
    if (this.ended) return;
    this.write({ code: 220, text: `${this.hostname} ESMTP Posthorn` });
    this.ready = true;
    this.flush();
    void this.pump();
  }

  /** Graceful shutdown: 421 now if no transaction is open, else once it finishes. */
  shutdown(): void {
    this.shuttingDown = true;
    if (this.ready && !this.tx && !this.pumping) this.sayGoodbye();
  }

  /** Forced shutdown after the grace period: 421 and close, aborting any transfer. */
  forceClose(): void {
    if (this.ended) {
      this.socket.destroy();
      return;
    }
    this.tx?.transfer?.abort(new BodyAbortedError('server shutting down', 'CONNECTION_LOST'));
    this.sayGoodbye();
    this.socket.destroy();
  }

  private sayGoodbye(): void {
    this.write(r(421, '4.3.2', `${this.hostname} Service shutting down, closing transmission channel`));
    this.end();
  }

  // ---- the command loop ----

  protected override async pump(): Promise<void> {
    if (this.pumping || !this.ready) return;
    this.pumping = true;
    try {
      while (!this.ended && !this.sink) {
        if (this.shuttingDown && !this.tx) {
          this.sayGoodbye();
          break;
        }
        const l = this.splitter.next();
        if (!l) break;
        await this.handleLine(l.line, l.ending, l.tooLong);
      }
    } catch (err) {
      this.log.error({ err }, 'internal error');
      this.write(r(421, '4.3.0', `${this.hostname} Error: internal error`));
      this.end();
    } finally {
      this.pumping = false;
    }
    this.flush();
    if (this.splitter.buffered <= MAX_PIPELINE_BUFFER) this.resume('pipeline');
    if (this.shuttingDown && !this.tx && !this.ended) this.sayGoodbye();
  }

  private async handleLine(line: Buffer, ending: 'crlf' | 'lf', tooLong: boolean): Promise<void> {
    const sasl = this.sasl !== undefined;
    if (this.onTrace) this.traceCommand(line, sasl);
    if (
      tooLong ||
      (!sasl &&
        line.length + 2 > this.limits.maxCommandLength &&
        !/^auth /i.test(line.toString('latin1', 0, 5)))
    ) {
      this.sasl = undefined;
      this.reply(
        sasl ? r(500, '5.5.6', 'Authentication exchange line is too long') : r(500, '5.5.2', 'Line too long'),
      );
      return;
    }
    if (ending === 'lf') {
      this.sasl = undefined;
      this.reply(r(500, '5.5.2', 'Line must end with CRLF, not a bare LF'));
      return;
    }
    if (sasl) {
      await this.saslStep(this.sasl!.respond(line.toString('latin1')));
      return;
    }
    let cmd: SmtpCommand;
    try {
      cmd = parseCommand(line);
    } catch (err) {
      if (!(err instanceof SmtpError)) throw err;
      this.reply(err.reply);
      return;
    }
    try {
      await this.dispatch(cmd);
    } catch (err) {
      this.replyError(err, cmd.verb);
    }
  }

  /** A backend failure: SmtpError's reply, anything else 451 4.3.0 and a log line. */
  private replyError(err: unknown, what: string): void {
    if (err instanceof SmtpError) {
      if (err.reason) this.log.info({ reply: err.reply.code, reason: err.reason }, `${what} refused`);
      this.reply(err.reply);
      return;
    }
    this.log.error({ err }, `${what} failed`);
    this.reply(INTERNAL_ERROR);
  }

  private async dispatch(cmd: SmtpCommand): Promise<void> {
    switch (cmd.verb) {
      case 'HELO':
      case 'EHLO':
        return this.helo(cmd.verb, cmd.domain);
      case 'MAIL':
        return this.mail(cmd.path.address, cmd.path.utf8, cmd.params);
      case 'RCPT':
        return this.rcpt(cmd.path.address, cmd.path.utf8, cmd.params);
      case 'DATA':
        return this.data();
      case 'BDAT':
        return this.bdat(cmd.size, cmd.last);
      case 'RSET':
        await this.resetTransaction();
        this.reply(r(250, '2.0.0', 'OK'));
        return;
      case 'VRFY':
        if (this.backend.vrfy) this.reply(await this.backend.vrfy(cmd.arg, this.conn));
        else this.reply(r(252, '2.5.2', 'Cannot VRFY user, but will accept message and attempt delivery'));
        return;
      case 'EXPN':
        this.reply(r(502, '5.5.1', 'EXPN not supported'));
        return;
      case 'NOOP':
        this.reply(r(250, '2.0.0', 'OK'));
        return;
      case 'HELP':
        this.reply(r(214, '2.0.0', HELP_TEXT));
        return;
      case 'QUIT':
        this.write(r(221, '2.0.0', `${this.hostname} Bye`));
        this.end(true);
        return;
      case 'STARTTLS':
        return this.startTls();
      case 'AUTH':
        return this.auth(cmd.mechanism, cmd.initialResponse);
      case 'UNKNOWN':
        this.reply(r(500, '5.5.2', 'Error: command not recognized'));
        return;
      default: {
        const never: never = cmd;
        throw new Error(`unhandled command ${(never as SmtpCommand).verb}`);
      }
    }
  }

  // ---- HELO / EHLO ----

  private capabilities(): string[] {
    return capabilities({
      maxMessageSize: this.limits.maxMessageSize,
      binaryMime: this.host.options.binaryMime !== false,
      startTls: this.host.tlsContext !== undefined && !this.conn.tls,
      auth: this.backend.auth !== undefined && authAllowed(this.conn, this.host.options),
    });
  }

  private async helo(verb: 'HELO' | 'EHLO', domain: string): Promise<void> {
    await this.resetTransaction(false);
    this.conn.helo = domain;
    this.conn.esmtp = verb === 'EHLO';
    const greeting = `${this.hostname} greets ${domain}`;
    // RFC 2034 §3: no enhanced code on the HELO/EHLO reply.
    this.reply(
      verb === 'EHLO' ? formatEhloReply(greeting, this.capabilities()) : { code: 250, text: greeting },
    );
  }

  // ---- the transaction ----

  private async resetTransaction(always = true): Promise<void> {
    const tx = this.tx;
    this.tx = undefined;
    if (tx?.transfer) {
      tx.transfer.abort(new BodyAbortedError('transaction reset', 'RESET'));
      await tx.transfer.verdict;
    }
    if ((always || this.dirty) && this.session) {
      this.dirty = false;
      await this.session.reset();
    }
  }

  private async mail(from: string, utf8: boolean, params: Record<string, string>): Promise<void> {
    if (!this.conn.helo) return this.reply(r(503, '5.5.1', 'Error: send HELO/EHLO first'));
    if (this.tx) return this.reply(r(503, '5.5.1', 'Error: nested MAIL command'));
    if (this.host.options.requireAuth && !this.conn.authUser) {
      return this.reply(r(530, '5.7.0', 'Authentication required'));
    }
    if (!this.conn.esmtp && Object.keys(params).length > 0) {
      return this.reply(r(555, '5.5.4', 'ESMTP parameters need EHLO'));
    }
    const opts = mailOptions(params);
    if (opts.size !== undefined && opts.size > this.limits.maxMessageSize) {
      return this.reply(r(552, '5.3.4', 'Message size exceeds fixed maximum message size'));
    }
    if (opts.body === 'BINARYMIME' && this.host.options.binaryMime === false) {
      return this.reply(r(555, '5.5.4', 'BINARYMIME not supported'));
    }
    if (utf8 && !opts.smtputf8) return this.reply(r(553, '5.6.7', 'Non-ASCII address needs SMTPUTF8'));
    if (this.dirty) await this.resetTransaction(false);
    this.dirty = true;
    await this.session!.mail(from, opts);
    this.tx = { from, opts, rcpts: [] };
    this.reply(r(250, '2.1.0', `Sender <${from}> OK`));
  }

  private async rcpt(to: string, utf8: boolean, params: Record<string, string>): Promise<void> {
    const tx = this.tx;
    if (!tx) return this.reply(r(503, '5.5.1', 'Error: need MAIL command'));
    if (tx.transfer) return this.reply(r(503, '5.5.1', 'Error: RCPT not allowed during BDAT'));
    if (!this.conn.esmtp && Object.keys(params).length > 0) {
      return this.reply(r(555, '5.5.4', 'ESMTP parameters need EHLO'));
    }
    const opts = rcptOptions(params);
    if (utf8 && !tx.opts.smtputf8) return this.reply(r(553, '5.6.7', 'Non-ASCII address needs SMTPUTF8'));
    if (tx.rcpts.length >= this.limits.maxRecipients)
      return this.reply(r(452, '4.5.3', 'Error: too many recipients'));
    await this.session!.rcpt(to, opts);
    tx.rcpts.push(to);
    this.reply(r(250, '2.1.5', `Recipient <${to}> OK`));
  }

  /** Checks common to DATA and BDAT; returns the refusal, if any. */
  private bodyRefusal(): SmtpReply | undefined {
    if (!this.tx) return r(503, '5.5.1', 'Error: need MAIL command');
    if (this.tx.rcpts.length === 0) return r(554, '5.5.1', 'Error: no valid recipients');
    return undefined;
  }

  private newTransfer(): BodyTransfer {
    return new BodyTransfer(
      this.session!,
      () => this.resume('body'),
      () => this.resume('body'),
    );
  }

  private async data(): Promise<void> {
    const refusal = this.bodyRefusal();
    if (refusal) return this.reply(refusal);
    const tx = this.tx!;
    if (tx.transfer) return this.reply(r(503, '5.5.1', 'Error: DATA not allowed after BDAT'));
    if (tx.opts.body === 'BINARYMIME')
      return this.reply(r(503, '5.5.1', 'Error: BODY=BINARYMIME needs BDAT'));
    this.write({ code: 354, text: 'End data with <CR><LF>.<CR><LF>' });
    this.flush();
    const transfer = this.newTransfer();
    tx.transfer = transfer;
    tx.kind = 'DATA';
    const decoder = new DotDecoder({ maxLineLength: this.limits.maxLineLength });
    const max = this.limits.maxMessageSize;
    await this.receive((chunk, done) => {
      const res = decoder.push(chunk);
      if (decoder.defective) {
        const d = decoder.defects;
        const code = d.bareLf || d.bareCr ? 'BARE_LINE_END' : d.nul ? 'NUL' : 'LINE_TOO_LONG';
        transfer.abort(new BodyAbortedError('message refused', code));
      }
      for (const c of res.chunks) {
        if (transfer.size + c.length > max) transfer.abort(new BodyAbortedError('message too big', 'SIZE'));
        if (!transfer.write(c)) this.pause('body');
      }
      if (res.done) done(res.rest!);
    });
    if (this.onTrace) this.traceData(transfer.size);
    if (this.ended) return;
    transfer.end();
    const d = decoder.defects;
    let refused: SmtpReply | undefined;
    if (d.bareLf || d.bareCr) refused = BARE_LINE_END;
    else if (d.nul) refused = NUL_IN_MESSAGE;
    else if (d.lineTooLong)
      refused = r(554, '5.6.0', `Error: line longer than ${this.limits.maxLineLength} octets`);
    else if (transfer.size > max) refused = TOO_BIG;
    await this.finishTransfer(transfer, refused);
  }

  private async bdat(size: number, last: boolean): Promise<void> {
    // RFC 3030 §2: the chunk is read even when the command is refused.
    let refusal = this.bodyRefusal();
    if (!refusal && this.tx!.kind === 'DATA') refusal = r(503, '5.5.1', 'Error: BDAT not allowed after DATA');
    if (refusal) {
      await this.receiveBytes(size, () => {});
      if (this.onTrace) this.traceData(size);
      if (!this.ended) this.reply(refusal);
      return;
    }
    const tx = this.tx!;
    tx.kind = 'BDAT';
    const transfer = (tx.transfer ??= this.newTransfer());
    const max = this.limits.maxMessageSize;
    await this.receiveBytes(size, (c) => {
      if (transfer.size + c.length > max) transfer.abort(new BodyAbortedError('message too big', 'SIZE'));
      if (!transfer.write(c)) this.pause('body');
    });
    if (this.onTrace) this.traceData(size);
    if (this.ended) return;
    if (transfer.size > max) return this.finishTransfer(transfer, TOO_BIG);
    if (transfer.settled) return this.finishTransfer(transfer, undefined);
    if (!last) return this.reply(r(250, '2.0.0', `${size} octets received`));
    transfer.end();
    await this.finishTransfer(transfer, undefined);
  }

  /** Waits for the backend's verdict and answers; the transaction is over either way. */
  private async finishTransfer(transfer: BodyTransfer, refused: SmtpReply | undefined): Promise<void> {
    const verdict: DataVerdict = await transfer.verdict;
    const tx = this.tx!;
    this.tx = undefined;
    this.resume('body');
    if (this.ended) return;
    if (refused) {
      if (verdict.ok) this.log.warn('backend accepted an aborted body; it must fail when the stream errors');
      this.log.info({ reply: refused.code, size: transfer.size }, 'message refused');
      return this.reply(refused);
    }
    if (!verdict.ok) return this.replyError(verdict.error, 'data');
    if (transfer.settledEarly) {
      this.log.error('backend resolved data() before the body ended');
      return this.reply(INTERNAL_ERROR);
    }
    this.messages++;
    const text = verdict.result?.text;
    this.log.debug(
      { from: tx.from, rcpts: tx.rcpts.length, size: transfer.size, id: text },
      'message accepted',
    );
    this.reply(r(250, '2.0.0', text ? `OK ${text}` : 'OK'));
  }

  // ---- STARTTLS (RFC 3207) ----

  private async startTls(): Promise<void> {
    const ctx = this.host.tlsContext;
    if (!ctx) return this.reply(r(502, '5.5.1', 'Error: STARTTLS not available'));
    if (this.conn.tls) return this.reply(r(503, '5.5.1', 'Error: TLS already active'));
    // §4.2: forget everything learnt before TLS.
    await this.resetTransaction(false);
    if (this.ended) return;
    this.conn.helo = undefined;
    this.conn.esmtp = false;
    this.conn.authUser = undefined;
    // Bytes pipelined after STARTTLS were sent in clear text and could be injected by a man in
    // the middle (CVE-2011-0411): they are discarded, never executed after the handshake.
    const injected = this.splitter.takeRemainder();
    if (injected.length > 0)
      this.log.warn({ octets: injected.length }, 'discarded data pipelined after STARTTLS');
    this.write(r(220, '2.0.0', 'Ready to start TLS'));
    this.flush();
    this.upgradeToTls(ctx, (secure) => {
      this.conn.tls = true;
      this.log.info({ protocol: secure.getProtocol(), cipher: secure.getCipher()?.name }, 'tls');
    });
  }

  // ---- AUTH (RFC 4954) ----

  private async auth(mechanism: string, initial: string | undefined): Promise<void> {
    const refusal = authRefusal(this.conn, this.host.options, this.tx !== undefined);
    if (refusal) return this.reply(refusal);
    const server = createSaslServer(mechanism);
    if (!server) return this.reply(r(504, '5.5.4', 'Unrecognized authentication type'));
    this.sasl = server;
    await this.saslStep(server.start(initial));
  }

  private async saslStep(step: SaslStep): Promise<void> {
    if (step.type === 'challenge') {
      // Written by hand: "334 " keeps its space even when the challenge is empty (RFC 4954 §4).
      this.queue(`334 ${step.data}\r\n`);
      return;
    }
    const mechanism = this.sasl?.mechanism;
    this.sasl = undefined;
    this.reply(await finishAuth(step, mechanism, this.backend.auth!, this.conn, this.log));
  }

  // ---- tracing (only with an observer) ----

  private traceCommand(line: Buffer, sasl: boolean): void {
    // A SASL exchange line is a credential whatever it looks like.
    const text = sasl ? TRACE_MASK : maskSmtpCommand(line.toString('utf8'));
    this.onTrace!({ type: 'line', conn: this.conn, dir: 'C', line: text });
  }

  private traceData(octets: number): void {
    this.onTrace!({ type: 'line', conn: this.conn, dir: 'C', line: messageDataLine(octets) });
  }
}

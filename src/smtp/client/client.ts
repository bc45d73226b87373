/**
 * An SMTP client (RFC 5321) for MX delivery, smarthosts, submission (RFC 6409), tests and
 * benchmarks. One method per command, like poplib and Go's net/smtp:
 *
 *   connect → 220 greeting, EHLO (HELO when EHLO gets 500/502), STARTTLS (RFC 3207) + EHLO again
 *   auth()  → AUTH PLAIN / LOGIN (RFC 4954, RFC 4616)
 *   send()  → MAIL, RCPT…, DATA or BDAT (RFC 3030), pipelined when offered (RFC 2920)
 *   rset(), noop(), quit(), close()
 *
 * Failure semantics: methods reject with SmtpClientError, `temporary` for 4xx, network errors and
 * timeouts, permanent for 5xx and for local refusals (SIZE over the server's limit, SMTPUTF8
 * needed and not offered, 8-bit body without 8BITMIME → 'needs7bit', values with CR/LF/NUL).
 * Local refusals happen before any byte is written. A timeout, a network error or a failing body
 * source leaves the client dead (the socket is destroyed; no partial message is terminated);
 * refused commands leave it usable. Recipient refusals are not errors: `send` reports them per
 * recipient. Calls must not overlap; an overlapping call throws.
 */
import { isAscii } from 'node:buffer';
import { isIP } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { isLoopback, type Logger, silentLogger } from '../../core/index.js';
import { encodeLogin, encodePlain } from '../../wire/sasl.js';
import type { SmtpReply } from '../server/backend.js';
import { writeBdatBody } from './bdat.js';
import { type MessageSource, writeDataBody } from './body.js';
import { heloCapabilities, parseCapabilities, type SmtpCapabilities } from './capabilities.js';
import {
  assertLineSafe,
  checkLocalName,
  isNonAscii,
  mailCommand,
  type NotifyValue,
  rcptCommand,
} from './commands.js';
import { replyText, SmtpClientError, type SmtpClientStage } from './errors.js';
import {
  type AuthOptions,
  DEFAULT_CLIENT_TIMEOUTS,
  type Envelope,
  type RecipientSpec,
  type SendResult,
  type SmtpClientOptions,
  type SmtpClientTimeouts,
  type SmtpTlsMode,
} from './options.js';
import { Transport } from './transport.js';

export class SmtpClient {
  /** The 220 greeting. */
  greeting!: SmtpReply;
  /** What the last EHLO advertised (after STARTTLS: the post-TLS list). */
  capabilities: SmtpCapabilities = heloCapabilities();
  /** Identity accepted by AUTH, once authenticated. */
  authenticated: string | undefined;
  private busy = false;
  private readonly timeouts: SmtpClientTimeouts;
  private readonly localName: string;
  private readonly log: Logger;

  private constructor(
    private readonly transport: Transport,
    private readonly opts: SmtpClientOptions,
    timeouts: SmtpClientTimeouts,
    log: Logger,
  ) {
    this.timeouts = timeouts;
    this.localName = opts.localName ?? 'localhost';
    this.log = log;
  }

  /** Connects, reads the greeting, says EHLO (or HELO) and negotiates TLS as `tls` asks. */
  static async connect(opts: SmtpClientOptions): Promise<SmtpClient> {
    const localName = opts.localName ?? 'localhost';
    checkLocalName(localName);
    const timeouts = { ...DEFAULT_CLIENT_TIMEOUTS, ...opts.timeouts };
    const log = (opts.logger ?? silentLogger).child({ smtpClient: `${opts.host}:${opts.port}` });
    const mode = opts.tls ?? 'starttls';
    const transport = await Transport.open({
      host: opts.host,
      port: opts.port,
      localAddress: opts.localAddress,
      tls: mode === 'implicit' ? tlsOptions(opts) : undefined,
      timeoutMs: timeouts.connect,
      logger: log,
    });
    const client = new SmtpClient(transport, opts, timeouts, log);
    try {
      await client.handshake(mode);
    } catch (err) {
      transport.close();
      throw err;
    }
    log.debug({ tls: client.secure, esmtp: client.capabilities.esmtp }, 'smtp connected');
    return client;
  }

  /** True once the connection is encrypted (implicit TLS or STARTTLS). */
  get secure(): boolean {
    return this.transport.secure;
  }

  /** For TLS connections: whether the certificate verified against the trusted CAs. */
  get tlsAuthorized(): boolean {
    return this.secure && (this.transport.socket as TLSSocket).authorized === true;
  }

  /** False once the connection failed or was closed. */
  get usable(): boolean {
    return this.transport.alive;
  }

  get remoteAddress(): string | undefined {
    return this.transport.socket.remoteAddress;
  }

  private async handshake(mode: SmtpTlsMode): Promise<void> {
    this.greeting = await this.read('greeting', this.timeouts.initial);
    if (this.greeting.code !== 220) {
      // RFC 5321 §3.1: after a 554 greeting the client should still say QUIT.
      await this.quietQuit();
      throw SmtpClientError.fromReply('greeting', this.greeting);
    }
    await this.hello();
    if (mode !== 'starttls' && mode !== 'starttls-required') return;
    if (!this.capabilities.startTls) {
      if (mode === 'starttls') return;
      await this.quietQuit();
      throw new SmtpClientError('tls', 'starttls', 'STARTTLS required but the server does not offer it');
    }
    const reply = await this.command('STARTTLS', 'starttls', this.timeouts.command);
    if (reply.code !== 220) {
      if (mode === 'starttls') {
        this.log.info({ reply: replyText(reply) }, 'STARTTLS refused; continuing without TLS');
        return;
      }
      await this.quietQuit();
      throw new SmtpClientError('tls', 'starttls', `STARTTLS refused: ${replyText(reply)}`, {
        reply,
        temporary: true,
      });
    }
    await this.transport.startTls(tlsOptions(this.opts), this.timeouts.command);
    // RFC 3207 §4.2: forget everything learned before TLS and greet again.
    this.capabilities = heloCapabilities();
    await this.hello();
  }

  /** EHLO, falling back to HELO when the server does not know EHLO (RFC 5321 §3.2). */
  private async hello(): Promise<void> {
    const ehlo = await this.command(`EHLO ${this.localName}`, 'ehlo', this.timeouts.command);
    if (ehlo.code === 250) {
      this.capabilities = parseCapabilities(ehlo);
      return;
    }
    if (ehlo.code !== 500 && ehlo.code !== 502) throw SmtpClientError.fromReply('ehlo', ehlo);
    const helo = await this.command(`HELO ${this.localName}`, 'helo', this.timeouts.command);
    if (helo.code !== 250) throw SmtpClientError.fromReply('helo', helo);
    this.capabilities = heloCapabilities();
  }

  /** AUTH PLAIN or LOGIN (RFC 4954). A 535 rejects with code 'auth', permanent. */
  async auth(a: AuthOptions): Promise<void> {
    return this.exclusive(async () => {
      for (const [v, what] of [
        [a.username, 'user name'],
        [a.password, 'password'],
        [a.authzid ?? '', 'authzid'],
      ] as const) {
        assertLineSafe(v, what, 'auth');
      }
      const offered = this.capabilities.auth;
      const mech =
        a.mechanism ??
        (offered.includes('PLAIN') ? 'PLAIN' : offered.includes('LOGIN') ? 'LOGIN' : undefined);
      if (mech === undefined || !offered.includes(mech)) {
        throw new SmtpClientError(
          'auth',
          'auth',
          `no usable AUTH mechanism (server offers: ${offered.join(' ') || 'none'})`,
          {
            temporary: false,
          },
        );
      }
      const remote = this.remoteAddress ?? '';
      if (!this.secure && !a.allowInsecure && !isLoopback(remote)) {
        throw new SmtpClientError(
          'auth',
          'auth',
          'refusing to send a password over an unencrypted connection',
          {
            temporary: false,
          },
        );
      }
      const t = this.timeouts.command;
      let reply: SmtpReply;
      if (mech === 'PLAIN') {
        let initial: string;
        try {
          initial = encodePlain(a.username, a.password, a.authzid ?? '');
        } catch (err) {
          throw new SmtpClientError('invalid', 'auth', (err as Error).message, { cause: err });
        }
        reply = await this.command(`AUTH PLAIN ${initial}`, 'auth', t, 'AUTH PLAIN ***');
        // A server that ignores initial responses asks again with an empty 334.
        if (reply.code === 334) reply = await this.command(initial, 'auth', t, '***');
      } else {
        reply = await this.command('AUTH LOGIN', 'auth', t);
        if (reply.code === 334) reply = await this.command(encodeLogin(a.username), 'auth', t, '***');
        if (reply.code === 334) reply = await this.command(encodeLogin(a.password), 'auth', t, '***');
      }
      if (reply.code === 334) {
        // More challenges than PLAIN/LOGIN have: cancel (RFC 4954 §4) and report.
        const cancelled = await this.command('*', 'auth', t);
        throw new SmtpClientError('auth', 'auth', `AUTH ${mech}: unexpected challenge`, { reply: cancelled });
      }
      if (reply.code !== 235) {
        const what = reply.code === 535 ? 'credentials rejected' : 'refused';
        throw new SmtpClientError('auth', 'auth', `AUTH ${mech} ${what}: ${replyText(reply)}`, { reply });
      }
      this.authenticated = a.username;
    });
  }

  /**
   * One mail transaction. Local refusals (size, needs7bit, smtputf8, invalid) and a refused MAIL
   * reject; refused recipients and a refused DATA/final reply are reported in the result.
   */
  async send(envelope: Envelope, body: MessageSource): Promise<SendResult> {
    return this.exclusive(() => this.transaction(envelope, body));
  }

  private async transaction(env: Envelope, body: MessageSource): Promise<SendResult> {
    const caps = this.capabilities;
    // In-memory bodies describe themselves; streamed ones rely on the caller's size/body8bit.
    const held = typeof body === 'string' || body instanceof Uint8Array ? body : undefined;
    env = {
      ...env,
      size: env.size ?? (held === undefined ? undefined : Buffer.byteLength(held)),
      body8bit: env.body8bit ?? (held === undefined ? false : !isAsciiBody(held)),
    };
    const rcpts = env.recipients.map(normaliseRecipient);
    if (rcpts.length === 0) throw new SmtpClientError('invalid', 'rcpt', 'no recipients');
    const utf8 = env.smtputf8 === true || isNonAscii(env.from) || rcpts.some((r) => isNonAscii(r.address));
    // Build (and so validate) every line before checking the server: invalid input is 'invalid'.
    const mailLine = mailCommand(env.from, {
      size: caps.size !== undefined ? env.size : undefined,
      body8bit: env.body8bit === true && caps.eightBitMime,
      smtputf8: utf8 && caps.smtpUtf8,
      ret: caps.dsn ? env.ret : undefined,
      envid: caps.dsn ? env.envid : undefined,
    });
    const rcptLines = rcpts.map((r) =>
      rcptCommand(r.address, caps.dsn ? { notify: r.notify, orcpt: r.orcpt } : {}),
    );
    if (utf8 && !caps.smtpUtf8) {
      throw new SmtpClientError(
        'smtputf8',
        'mail',
        'the message needs SMTPUTF8 and the server does not offer it',
        {
          temporary: false,
        },
      );
    }
    if (env.body8bit && !caps.eightBitMime) {
      throw new SmtpClientError(
        'needs7bit',
        'mail',
        'the body is 8-bit and the server lacks 8BITMIME: convert to 7bit',
        {
          temporary: false,
        },
      );
    }
    if (caps.size && env.size !== undefined && env.size > caps.size) {
      throw new SmtpClientError(
        'size',
        'mail',
        `message of ${env.size} octets exceeds the server's SIZE ${caps.size}`,
        {
          temporary: false,
          limit: caps.size,
        },
      );
    }
    const chunked = caps.chunking && this.opts.chunking !== false;
    const pipelined = caps.pipelining && this.opts.pipelining !== false;
    const t = this.timeouts;
    const result: SendResult = {
      mail: { code: 0, text: '' },
      recipients: [],
      ok: false,
      delivered: [],
      octets: 0,
      pipelined,
      chunked,
    };
    const record = (address: string, reply: SmtpReply) =>
      result.recipients.push({
        address,
        code: reply.code,
        ...(reply.enhanced ? { enhanced: reply.enhanced } : {}),
        text: Array.isArray(reply.text) ? reply.text.join(' ') : reply.text,
        accepted: reply.code >= 200 && reply.code < 300,
        reply,
      });

    let dataReply: SmtpReply | undefined;
    if (pipelined) {
      // RFC 2920 §3.1: MAIL, the RCPTs and DATA may go in one group; DATA is the last of it.
      const group = [mailLine, ...rcptLines, ...(chunked ? [] : ['DATA'])];
      this.log.debug({ commands: group.length }, 'smtp pipelined group');
      await this.transport.write(group.map((l) => `${l}\r\n`).join(''), 'mail', t.mail);
      result.mail = await this.read('mail', t.mail);
      for (const r of rcpts) record(r.address, await this.read('rcpt', t.rcpt));
      if (!chunked) dataReply = await this.read('data', t.dataInit);
    } else {
      result.mail = await this.command(mailLine, 'mail', t.mail);
      if (!isOk(result.mail)) throw SmtpClientError.fromReply('mail', result.mail);
      for (let i = 0; i < rcpts.length; i++)
        record(rcpts[i]!.address, await this.command(rcptLines[i]!, 'rcpt', t.rcpt));
    }
    const anyAccepted = isOk(result.mail) && result.recipients.some((r) => r.accepted);
    if (dataReply?.code === 354 && !anyAccepted) {
      // RFC 2920 §3.1: DATA accepted although nothing may be delivered: send an empty message.
      await this.transport.write('.\r\n', 'data', t.dataBlock);
      await this.read('data', t.dataTermination);
      dataReply = undefined;
    }
    if (!isOk(result.mail)) throw SmtpClientError.fromReply('mail', result.mail);
    if (!anyAccepted) {
      await this.resetQuietly();
      return result;
    }
    if (!chunked) {
      dataReply ??= await this.command('DATA', 'data', t.dataInit);
      if (dataReply.code !== 354) {
        result.data = dataReply;
        await this.resetQuietly();
        return result;
      }
    }
    try {
      if (chunked) {
        const out = await writeBdatBody(this.transport, body, t);
        if (out.reply.code === 421) throw SmtpClientError.fromReply('bdat', out.reply);
        result.octets = out.octets;
        result.data = out.reply;
      } else {
        result.octets = await writeDataBody(this.transport, body, t.dataBlock);
        result.data = await this.read('data', t.dataTermination);
      }
    } catch (err) {
      // The body is half sent: only dropping the connection guarantees no partial delivery.
      this.transport.close();
      throw err;
    }
    result.ok = isOk(result.data);
    if (result.ok) result.delivered = result.recipients.filter((r) => r.accepted).map((r) => r.address);
    else if (chunked) await this.resetQuietly();
    this.log.debug(
      { ok: result.ok, delivered: result.delivered.length, octets: result.octets },
      'smtp transaction',
    );
    return result;
  }

  /** RSET (RFC 5321 §4.1.1.5): abort the current transaction. Rejects unless 250. */
  async rset(): Promise<SmtpReply> {
    return this.exclusive(async () => {
      const r = await this.command('RSET', 'rset', this.timeouts.command);
      if (!isOk(r)) throw SmtpClientError.fromReply('rset', r);
      return r;
    });
  }

  /** NOOP (RFC 5321 §4.1.1.9): keeps the connection alive, checks it still works. */
  async noop(): Promise<SmtpReply> {
    return this.exclusive(async () => {
      const r = await this.command('NOOP', 'noop', this.timeouts.command);
      if (!isOk(r)) throw SmtpClientError.fromReply('noop', r);
      return r;
    });
  }

  /** QUIT, wait for 221 (or the close), then close. Never rejects: the session is over anyway. */
  async quit(): Promise<SmtpReply | undefined> {
    return this.exclusive(() => this.quietQuit());
  }

  /** Drops the connection at once, without QUIT. */
  close(): void {
    this.transport.close();
  }

  private async quietQuit(): Promise<SmtpReply | undefined> {
    try {
      if (!this.transport.alive) return undefined;
      return await this.command('QUIT', 'quit', this.timeouts.command);
    } catch {
      return undefined;
    } finally {
      this.transport.close();
    }
  }

  private async resetQuietly(): Promise<void> {
    const r = await this.command('RSET', 'rset', this.timeouts.command);
    if (!isOk(r)) this.log.warn({ reply: replyText(r) }, 'RSET refused');
  }

  /** Writes one command line and reads its reply. `shown` replaces the line in logs (secrets). */
  private async command(
    line: string,
    stage: SmtpClientStage,
    timeoutMs: number,
    shown?: string,
  ): Promise<SmtpReply> {
    assertLineSafe(line, 'command', stage);
    this.log.debug({ stage, command: shown ?? line }, 'smtp command');
    await this.transport.write(`${line}\r\n`, stage, timeoutMs);
    return this.read(stage, timeoutMs);
  }

  /**
   * Next reply. A 421 means the server is closing the channel (RFC 5321 §3.8): whatever the
   * command was, the session is over, so it rejects (temporary) with that reply.
   */
  private async read(stage: SmtpClientStage, timeoutMs: number): Promise<SmtpReply> {
    const reply = await this.transport.read(stage, timeoutMs);
    if (reply.code === 421 && stage !== 'quit' && stage !== 'greeting') {
      this.transport.close();
      throw SmtpClientError.fromReply(stage, reply);
    }
    return reply;
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) throw new Error('SmtpClient: a command is already in progress; await it first');
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
    }
  }
}

function isAsciiBody(body: string | Uint8Array): boolean {
  return typeof body === 'string' ? !isNonAscii(body) : isAscii(body);
}

function isOk(reply: SmtpReply | undefined): reply is SmtpReply {
  return reply !== undefined && reply.code >= 200 && reply.code < 300;
}

function normaliseRecipient(r: string | RecipientSpec): {
  address: string;
  notify?: NotifyValue[];
  orcpt?: { type: string; address: string };
} {
  if (typeof r === 'string') return { address: r };
  const orcpt =
    r.orcpt === undefined
      ? undefined
      : typeof r.orcpt === 'string'
        ? { type: 'rfc822', address: r.orcpt }
        : { type: r.orcpt.type ?? 'rfc822', address: r.orcpt.address };
  return { address: r.address, notify: r.notify, orcpt };
}

function tlsOptions(o: SmtpClientOptions): ConnectionOptions {
  const servername = o.servername ?? (isIP(o.host) ? undefined : o.host);
  // `host` is what the certificate is checked against when there is no servername (an IP).
  return {
    host: o.host,
    ...(servername ? { servername } : {}),
    // RFC 7435: opportunistic TLS encrypts without insisting on authentication; a mode that
    // requires TLS verifies unless told otherwise.
    rejectUnauthorized: o.rejectUnauthorized ?? (o.tls ?? 'starttls') !== 'starttls',
    ...(o.ca ? { ca: o.ca } : {}),
    minVersion: 'TLSv1.2',
  };
}

/** `SmtpClient.connect` as a function. */
export function connectSmtp(opts: SmtpClientOptions): Promise<SmtpClient> {
  return SmtpClient.connect(opts);
}

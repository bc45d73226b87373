/**
 * A small POP3 client (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH PLAIN) for the user
 * agent, tests and benchmarks. One method per command, poplib-style:
 *
 *   USER/PASS → login()     AUTH PLAIN → authPlain()   STLS → stls()   CAPA → capa()
 *   STAT → stat()           LIST → list()/listOne()    UIDL → uidl()/uidlOne()
 *   RETR → retr() (stream) / retrTo(n, writable) / retrBuffer()        TOP → top()
 *   DELE → dele()           RSET → rset()              NOOP → noop()   QUIT → quit()
 *
 * Failure semantics: a `-ERR` answer rejects with Pop3ClientError (carrying the RFC 2449 code);
 * a closed connection, a timeout or a malformed answer rejects with a plain Error and the client
 * is unusable afterwards. Commands must be awaited one after another; bodies stream un-stuffed and
 * must be consumed (or abandoned: the rest is drained) before the next command.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { encodePlain } from '../../wire/sasl.js';
import { formatCommand, parseCommand } from '../codec/command.js';
import { DotUnstuffer } from '../codec/dot-stuff.js';
import { type Pop3Response, parseResponse } from '../codec/response.js';

/** Longest status line we accept; RFC 2449 §4 caps them at 512 octets, we allow slack. */
export const POP3_CLIENT_MAX_LINE = 8192;
const HIGH_WATER = 1 << 20;
const LF = 0x0a;

export interface Pop3ClientOptions {
  host: string;
  port: number;
  /** 'implicit' for port 995, 'starttls' to send STLS right after the greeting. Default 'none'. */
  tls?: 'none' | 'starttls' | 'implicit';
  /** Passed to tls.connect (ca, servername, rejectUnauthorized, …). */
  tlsOptions?: ConnectionOptions;
  /** Socket inactivity timeout. Default 60000 ms. */
  timeoutMs?: number;
}

/** SNI only for host names (RFC 6066 §3 forbids IP literals). */
function serverName(host: string): { servername?: string } {
  return isIP(host) ? {} : { servername: host };
}

export class Pop3ClientError extends Error {
  constructor(
    readonly response: Pop3Response,
    readonly command: string,
  ) {
    super(`${command}: -ERR ${response.code ? `[${response.code}] ` : ''}${response.text}`);
    this.name = 'Pop3ClientError';
  }
  get code(): string | undefined {
    return this.response.code;
  }
}

export interface Pop3ListEntry {
  n: number;
  size: number;
}
export interface Pop3UidEntry {
  n: number;
  uid: string;
}

export class Pop3Client {
  private socket!: Socket;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private busy = false;
  /** The server's greeting line (after +OK). */
  greeting = '';

  private constructor(private readonly opts: Pop3ClientOptions) {}

  /** Connects, reads the greeting and, for tls 'starttls', upgrades with STLS. */
  static async connect(opts: Pop3ClientOptions): Promise<Pop3Client> {
    const c = new Pop3Client(opts);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s =
        opts.tls === 'implicit'
          ? tlsConnect(
              { host: opts.host, port: opts.port, ...serverName(opts.host), ...opts.tlsOptions },
              () => resolve(s),
            )
          : netConnect({ host: opts.host, port: opts.port }, () => resolve(s));
      s.once('error', reject);
    });
    c.attach(socket);
    socket.setTimeout(opts.timeoutMs ?? 60_000, () => socket.destroy(new Error('POP3 connection timed out')));
    const greet = await c.status('greeting');
    c.greeting = greet.text;
    if (opts.tls === 'starttls') await c.stls();
    return c;
  }

  /** True once the socket is encrypted. */
  get tls(): boolean {
    return 'encrypted' in this.socket;
  }

  private readonly onData = (d: Buffer) => {
    this.chunks.push(d);
    this.buffered += d.length;
    if (this.buffered > HIGH_WATER) this.socket.pause();
    this.wake?.();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.wake?.();
  };
  private readonly onError = (err: Error) => {
    this.failure ??= err;
    this.ended = true;
    this.wake?.();
  };

  private attach(s: Socket) {
    this.socket = s;
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('close', this.onEnd);
    s.on('error', this.onError);
  }

  private detach(s: Socket) {
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.removeListener('close', this.onEnd);
    s.removeListener('error', this.onError);
  }

  private async nextChunk(): Promise<Buffer> {
    while (this.chunks.length === 0) {
      if (this.ended) throw this.failure ?? new Error('POP3 server closed the connection');
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    const c = this.chunks.shift()!;
    this.buffered -= c.length;
    if (this.buffered <= HIGH_WATER / 2 && this.socket.isPaused()) this.socket.resume();
    return c;
  }

  private unread(b: Buffer) {
    if (b.length === 0) return;
    this.chunks.unshift(b);
    this.buffered += b.length;
  }

  private async readLine(): Promise<string> {
    const parts: Buffer[] = [];
    let len = 0;
    for (;;) {
      const c = await this.nextChunk();
      const lf = c.indexOf(LF);
      if (lf >= 0) {
        parts.push(c.subarray(0, lf));
        this.unread(c.subarray(lf + 1));
        const line = Buffer.concat(parts);
        const end = line.length && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
        return line.toString('utf8', 0, end);
      }
      parts.push(c);
      len += c.length;
      if (len > POP3_CLIENT_MAX_LINE) throw new Error('POP3 response line too long');
    }
  }

  private async status(command: string): Promise<Pop3Response> {
    const line = await this.readLine();
    const r = parseResponse(line);
    if (!r) throw new Error(`Malformed POP3 response to ${command}: ${JSON.stringify(line.slice(0, 80))}`);
    if (!r.ok) throw new Pop3ClientError(r, command);
    return r;
  }

  /** Sends one command and reads its status line; rejects on -ERR. */
  async command(keyword: string, ...args: string[]): Promise<Pop3Response> {
    if (this.busy) throw new Error('POP3 client: previous command still in progress');
    this.busy = true;
    try {
      this.socket.write(formatCommand(keyword, ...args));
      return await this.status(keyword);
    } finally {
      this.busy = false;
    }
  }

  /** The body of a multi-line response, un-stuffed, as it arrives. Drains the rest if abandoned. */
  private async *body(): AsyncGenerator<Buffer> {
    this.busy = true;
    const un = new DotUnstuffer();
    try {
      while (!un.done) {
        const out = un.push(await this.nextChunk());
        if (out.length) yield out;
      }
    } finally {
      while (!un.done && !this.ended) un.push(await this.nextChunk());
      this.unread(un.rest);
      this.busy = false;
    }
  }

  private async lines(): Promise<string[]> {
    const parts: Buffer[] = [];
    for await (const b of this.body()) parts.push(b);
    const text = Buffer.concat(parts).toString('utf8');
    return text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  }

  async capa(): Promise<string[]> {
    await this.command('CAPA');
    return this.lines();
  }

  /** STLS (RFC 2595), then the TLS handshake over the same connection. */
  async stls(tlsOptions: ConnectionOptions = this.opts.tlsOptions ?? {}): Promise<void> {
    await this.command('STLS');
    if (this.chunks.length) throw new Error('POP3 server sent data after STLS +OK');
    const raw = this.socket;
    this.detach(raw);
    const secured = await new Promise<Socket>((resolve, reject) => {
      const t = tlsConnect({ socket: raw, ...serverName(this.opts.host), ...tlsOptions }, () => resolve(t));
      t.once('error', reject);
    });
    this.attach(secured);
  }

  /** USER then PASS (RFC 1939 §7). */
  async login(user: string, password: string): Promise<Pop3Response> {
    await this.command('USER', user);
    return this.command('PASS', password);
  }

  /** AUTH PLAIN with an initial response (RFC 5034, RFC 4616). */
  async authPlain(user: string, password: string, authzid = ''): Promise<Pop3Response> {
    return this.command('AUTH', 'PLAIN', encodePlain(user, password, authzid));
  }

  async stat(): Promise<{ count: number; size: number }> {
    const r = await this.command('STAT');
    const [count, size] = r.text.split(' ').map(Number);
    if (!Number.isInteger(count) || !Number.isInteger(size))
      throw new Error(`Malformed STAT answer: ${r.text}`);
    return { count: count!, size: size! };
  }

  async list(): Promise<Pop3ListEntry[]> {
    await this.command('LIST');
    return (await this.lines()).map((l) => {
      const [n, size] = l.split(' ');
      return { n: Number(n), size: Number(size) };
    });
  }

  async listOne(n: number): Promise<Pop3ListEntry> {
    const [, size] = (await this.command('LIST', String(n))).text.split(' ');
    return { n, size: Number(size) };
  }

  async uidl(): Promise<Pop3UidEntry[]> {
    await this.command('UIDL');
    return (await this.lines()).map((l) => {
      const cmd = parseCommand(`X ${l}`)!;
      return { n: Number(cmd.args[0]), uid: cmd.args[1] ?? '' };
    });
  }

  async uidlOne(n: number): Promise<Pop3UidEntry> {
    const [, uid] = (await this.command('UIDL', String(n))).text.split(' ');
    return { n, uid: uid ?? '' };
  }

  /** RETR n: the message's stored bytes, un-stuffed, streamed. Consume before the next command. */
  async retr(n: number): Promise<AsyncGenerator<Buffer>> {
    await this.command('RETR', String(n));
    return this.body();
  }

  /** TOP n k: headers and k body lines, streamed. */
  async top(n: number, lines: number): Promise<AsyncGenerator<Buffer>> {
    await this.command('TOP', String(n), String(lines));
    return this.body();
  }

  /** RETR n into a Writable (with backpressure; the Writable is not ended). Resolves the octet count. */
  async retrTo(n: number, sink: Writable): Promise<number> {
    let octets = 0;
    for await (const chunk of await this.retr(n)) {
      octets += chunk.length;
      if (!sink.write(chunk)) await new Promise((r) => sink.once('drain', r));
    }
    return octets;
  }

  /** RETR n into memory; for tests and small messages. */
  async retrBuffer(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of await this.retr(n)) parts.push(chunk);
    return Buffer.concat(parts);
  }

  dele(n: number): Promise<Pop3Response> {
    return this.command('DELE', String(n));
  }

  rset(): Promise<Pop3Response> {
    return this.command('RSET');
  }

  noop(): Promise<Pop3Response> {
    return this.command('NOOP');
  }

  /** QUIT: in TRANSACTION the server commits DELEs before answering; then the connection closes. */
  async quit(): Promise<Pop3Response> {
    try {
      return await this.command('QUIT');
    } finally {
      this.socket.end();
    }
  }

  /** Drops the connection without QUIT (the server deletes nothing). */
  close(): void {
    this.socket.destroy();
  }
}

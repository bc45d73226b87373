/**
 * The client's byte pipe: one TCP or TLS socket, replies read with the shared codec's
 * `ReplyParser` (RFC 5321 §4.2, multi-line replies), writes that wait for `drain` (backpressure),
 * and the upgrade to TLS in place (RFC 3207).
 *
 * Failure semantics: every wait has a deadline; when it passes, or the socket errors or closes,
 * the transport is dead (the socket destroyed) and every later read or write rejects with a
 * temporary SmtpClientError ('timeout' or 'network'). Replies received before the close (a 421)
 * are still handed out first. A malformed or over-long reply line kills the transport with
 * 'protocol'. No wait can outlive its timer, so a silent server never hangs the caller.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { Logger } from '../../core/index.js';
import { LineSplitter } from '../../wire/line-splitter.js';
import { ReplyParser } from '../codec/reply.js';
import type { SmtpReply } from '../server/backend.js';
import { SmtpClientError, type SmtpClientErrorCode, type SmtpClientStage } from './errors.js';

/**
 * Longest reply line accepted. RFC 5321 §4.5.3.1.5 says 512 octets, but real servers send longer
 * EHLO and rejection texts; we are lenient up to this many and refuse beyond (memory bound).
 */
export const CLIENT_MAX_REPLY_LINE = 4096;
/** A reply with more lines than this is refused: no server needs it, and it bounds memory. */
export const CLIENT_MAX_REPLY_LINES = 256;

interface Failure {
  code: SmtpClientErrorCode;
  message: string;
  cause?: unknown;
}

export interface OpenOptions {
  host: string;
  port: number;
  localAddress?: string;
  /** Implicit TLS (RFC 8314): the handshake is part of connecting. */
  tls?: ConnectionOptions;
  timeoutMs: number;
  logger: Logger;
}

export class Transport {
  socket: Socket | TLSSocket;
  private splitter = new LineSplitter({ maxLength: CLIENT_MAX_REPLY_LINE });
  private parser = new ReplyParser();
  private lineCount = 0;
  private replies: SmtpReply[] = [];
  private failure: Failure | undefined;
  private wake: (() => void) | undefined;
  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private readonly onError = (err: Error) => this.fail({ code: 'network', message: err.message, cause: err });
  private readonly onClose = () => this.fail({ code: 'network', message: 'connection closed by the server' });

  private constructor(
    socket: Socket | TLSSocket,
    private readonly logger: Logger,
  ) {
    this.socket = socket;
    this.attach(socket);
  }

  /** Connects (and for implicit TLS, completes the handshake) within `timeoutMs`. */
  static open(opts: OpenOptions): Promise<Transport> {
    return new Promise((resolve, reject) => {
      const base = { host: opts.host, port: opts.port, localAddress: opts.localAddress };
      const socket = opts.tls ? tlsConnect({ ...opts.tls, ...base }) : netConnect(base);
      const stage: SmtpClientStage = 'connect';
      const done = (err?: SmtpClientError) => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        if (err) {
          socket.destroy();
          reject(err);
        } else {
          resolve(new Transport(socket, opts.logger));
        }
      };
      const onError = (err: Error) => {
        const code = opts.tls && isTlsError(err) ? 'tls' : 'network';
        done(
          new SmtpClientError(code, stage, `connect to ${opts.host}:${opts.port}: ${err.message}`, {
            cause: err,
          }),
        );
      };
      const timer = setTimeout(
        () => done(new SmtpClientError('timeout', stage, `connect to ${opts.host}:${opts.port} timed out`)),
        opts.timeoutMs,
      );
      socket.once('error', onError);
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        // Commands and body blocks are written whole; Nagle would only add delayed-ACK stalls.
        socket.setNoDelay(true);
        done();
      });
    });
  }

  get secure(): boolean {
    return 'encrypted' in this.socket && this.socket.encrypted === true;
  }

  get alive(): boolean {
    return this.failure === undefined;
  }

  /** Next reply, waiting at most `timeoutMs`. */
  async read(stage: SmtpClientStage, timeoutMs: number): Promise<SmtpReply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = this.replies.shift();
      if (reply) {
        this.logger.debug({ stage, code: reply.code, enhanced: reply.enhanced }, 'smtp reply');
        return reply;
      }
      if (this.failure) throw this.error(stage);
      const left = deadline - Date.now();
      if (left <= 0) {
        this.fail({ code: 'timeout', message: `no reply within ${timeoutMs} ms` });
        throw this.error(stage);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Writes, then waits for `drain` (at most `timeoutMs`) when the socket's buffer is full. */
  async write(data: string | Buffer, stage: SmtpClientStage, timeoutMs: number): Promise<void> {
    if (this.failure) throw this.error(stage);
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (this.socket.write(buf)) return;
    // A socket already gone will never emit 'drain' or 'close' again: fail now, not at the timer.
    if (this.socket.destroyed) {
      this.fail({ code: 'network', message: 'connection closed' });
      throw this.error(stage);
    }
    await new Promise<void>((resolve) => {
      const socket = this.socket;
      const finish = () => {
        clearTimeout(timer);
        socket.removeListener('drain', finish);
        socket.removeListener('close', finish);
        resolve();
      };
      const timer = setTimeout(() => {
        this.fail({ code: 'timeout', message: `data block not taken within ${timeoutMs} ms` });
        finish();
      }, timeoutMs);
      socket.on('drain', finish);
      socket.on('close', finish);
    });
    if (this.failure) throw this.error(stage);
  }

  /**
   * Upgrades to TLS after the server's 220 to STARTTLS. Bytes the server sent after that reply
   * would be read as if they came over TLS (the CVE-2011-0411 response injection), so their
   * presence is a protocol error, not something to parse.
   */
  async startTls(options: ConnectionOptions, timeoutMs: number): Promise<void> {
    if (this.replies.length > 0 || this.splitter.buffered > 0) {
      this.fail({ code: 'protocol', message: 'server sent data after its STARTTLS reply' });
      throw this.error('starttls');
    }
    const plain = this.socket;
    this.detach(plain);
    const secured = await new Promise<TLSSocket>((resolve, reject) => {
      const t = tlsConnect({ ...options, socket: plain });
      const timer = setTimeout(() => {
        t.destroy();
        reject(new SmtpClientError('timeout', 'starttls', `TLS handshake not done within ${timeoutMs} ms`));
      }, timeoutMs);
      t.once('secureConnect', () => {
        clearTimeout(timer);
        t.removeAllListeners('error');
        resolve(t);
      });
      t.once('error', (err) => {
        clearTimeout(timer);
        t.destroy();
        reject(
          new SmtpClientError('tls', 'starttls', `TLS handshake failed: ${err.message}`, { cause: err }),
        );
      });
    }).catch((err: SmtpClientError) => {
      this.failure = { code: err.code, message: err.message, cause: err.cause };
      throw err;
    });
    this.socket = secured;
    this.attach(secured);
  }

  /** Half-closes politely (after QUIT) and destroys the socket. */
  close(): void {
    if (!this.failure) this.failure = { code: 'network', message: 'connection closed by the client' };
    this.socket.end();
    this.socket.destroy();
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private detach(socket: Socket | TLSSocket): void {
    socket.removeListener('data', this.onData);
    socket.removeListener('error', this.onError);
    socket.removeListener('close', this.onClose);
  }

  private receive(chunk: Buffer): void {
    if (this.failure) return;
    this.splitter.push(chunk);
    for (let l = this.splitter.next(); l; l = this.splitter.next()) {
      const problem = this.takeLine(l.line, l.tooLong);
      if (problem) {
        this.fail(problem);
        return;
      }
    }
    this.wake?.();
  }

  private takeLine(line: Buffer, tooLong: boolean): Failure | undefined {
    if (tooLong) return { code: 'protocol', message: 'reply line too long' };
    if (++this.lineCount > CLIENT_MAX_REPLY_LINES)
      return { code: 'protocol', message: 'reply has too many lines' };
    try {
      const reply = this.parser.push(line.toString('utf8'));
      if (reply) {
        this.lineCount = 0;
        this.replies.push(reply);
      }
      return undefined;
    } catch (err) {
      return { code: 'protocol', message: (err as Error).message, cause: err };
    }
  }

  private fail(f: Failure): void {
    if (!this.failure) {
      this.failure = f;
      this.logger.debug({ code: f.code, err: f.message }, 'smtp connection failed');
    }
    if (f.code !== 'network') this.socket.destroy();
    this.wake?.();
  }

  private error(stage: SmtpClientStage): SmtpClientError {
    const f = this.failure!;
    return new SmtpClientError(f.code, stage, `${stage.toUpperCase()}: ${f.message}`, { cause: f.cause });
  }
}

function isTlsError(err: Error & { code?: string }): boolean {
  const code = err.code ?? '';
  return (
    /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL|HOSTNAME)/.test(code) ||
    /SSL|TLS|certificate/i.test(err.message)
  );
}

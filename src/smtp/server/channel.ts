/**
 * The I/O half of an SMTP session: one socket, read either as command lines (a LineSplitter) or
 * as raw content bytes routed to a sink (DATA, BDAT), with backpressure both ways and the reply
 * queue that PIPELINING (RFC 2920 §3.1) flushes only when the client would otherwise wait.
 * SmtpConnection (connection.ts) adds the protocol on top.
 *
 * Failure semantics: socket errors are logged at debug level and end in 'close'; a timeout while
 * the client owes us input is answered 421 4.4.2 and the connection closed (waiting on our own
 * backend never times the client out); the `maxErrors`-th error reply ends it with 421 4.7.0.
 * Reading stops (socket paused) when pipelined input, the body stream or unread replies exceed
 * their bounds, so a session's memory stays small whatever the client sends.
 */
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import type { Logger } from '../../core/index.js';
import { LineSplitter } from '../../wire/index.js';
import { formatReply } from '../codec/index.js';
import type { SmtpReply } from './backend.js';
import type { SmtpLimits } from './options.js';
import { r } from './replies.js';

/** RFC 4954 §4: an AUTH command or SASL response line may be 12,288 octets with its CRLF. */
export const MAX_AUTH_LINE_OCTETS = 12_288;
/** Pipelined command octets buffered while a command waits for the backend; more pauses the socket. */
export const MAX_PIPELINE_BUFFER = 64 * 1024;
/** Queued reply octets before they are written even mid-group (a client that never reads). */
export const MAX_QUEUED_REPLIES = 16 * 1024;

const destroySocket = (socket: Socket): void => {
  socket.destroy();
};

export abstract class SmtpChannel {
  protected socket: Socket;
  protected readonly splitter: LineSplitter;
  protected ended = false;
  private handshaking = false;
  /** While set, socket bytes go here instead of to the line splitter (DATA/BDAT content). */
  protected sink: ((chunk: Buffer) => void) | undefined;
  private onLost: (() => void) | undefined;
  private out: string[] = [];
  private outBytes = 0;
  private errors = 0;
  private readonly pauses = new Set<string>();
  /** Set only when the session is traced: sees every reply as written. */
  protected traceReplies: ((text: string) => void) | undefined;

  constructor(
    socket: Socket,
    protected readonly log: Logger,
    protected readonly limits: SmtpLimits,
    protected readonly hostname: string,
  ) {
    this.socket = socket;
    this.splitter = new LineSplitter({ maxLength: Math.max(MAX_AUTH_LINE_OCTETS, limits.maxCommandLength) });
    this.attach(socket);
  }

  /** Processes buffered command lines (called on every arrival of command bytes). */
  protected abstract pump(): Promise<void>;
  /** The socket closed; release the session. */
  protected abstract closed(): void;
  /** True while a command awaits the backend (no client timeout then). */
  protected abstract waitingOnBackend(): boolean;

  protected attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('timeout', this.onTimeout);
    socket.setTimeout(this.limits.idleTimeout);
  }

  protected detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
    socket.off('timeout', this.onTimeout);
    socket.setTimeout(0);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.ended) return;
    if (this.sink) {
      this.sink(chunk);
      return;
    }
    this.splitter.push(chunk);
    if (this.splitter.buffered > MAX_PIPELINE_BUFFER) this.pause('pipeline');
    void this.pump();
  };

  private readonly onError = (err: Error): void => {
    this.log.debug({ err: err.message }, 'socket error');
  };

  private readonly onClose = (): void => {
    this.ended = true;
    this.closed();
    this.onLost?.();
  };

  private readonly onTimeout = (): void => {
    if (this.ended) return;
    if (this.handshaking) {
      this.log.info('TLS handshake timeout');
      this.socket.destroy();
      return;
    }
    // Waiting on our own backend (a verdict, or a slow reader of the body) is not the client's
    // fault; the timer re-arms on the next socket activity.
    if (this.waitingOnBackend() || this.pauses.has('body')) return;
    this.log.info({ state: this.sink ? 'data' : 'command' }, 'timeout');
    this.write(r(421, '4.4.2', `${this.hostname} Error: timeout exceeded`));
    this.end();
  };

  /** Replaces the socket by a server-side TLSSocket over it (STARTTLS); `onSecure` runs after the handshake. */
  protected upgradeToTls(context: SecureContext, onSecure: (socket: TLSSocket) => void): void {
    const plain = this.socket;
    this.detach(plain);
    // Pauses belonged to the plain stream; its 'drain' will not come once TLS owns the handle.
    this.pauses.clear();
    const secure = new TLSSocket(plain, { isServer: true, secureContext: context });
    this.socket = secure;
    this.handshaking = true;
    this.attach(secure);
    secure.setTimeout(this.limits.tlsHandshakeTimeout);
    secure.once('secure', () => {
      this.handshaking = false;
      secure.setTimeout(this.limits.idleTimeout);
      onSecure(secure);
    });
  }

  protected pause(reason: string): void {
    if (this.pauses.size === 0) this.socket.pause();
    this.pauses.add(reason);
  }

  protected resume(reason: string): void {
    if (!this.pauses.delete(reason) || this.pauses.size > 0 || this.ended) return;
    this.socket.resume();
  }

  /** Queues a reply; replies go out together at flush points (RFC 2920 §3.1). */
  protected write(reply: SmtpReply): void {
    this.queue(formatReply(reply));
  }

  protected queue(text: string): void {
    if (this.traceReplies !== undefined) this.traceReplies(text);
    this.out.push(text);
    this.outBytes += text.length;
    if (this.outBytes > MAX_QUEUED_REPLIES) this.flush();
  }

  /** Writes queued replies; a client that does not read them stops being read (no unbounded queue). */
  protected flush(): void {
    if (this.out.length === 0) return;
    const data = this.out.join('');
    this.out = [];
    this.outBytes = 0;
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return;
    if (!socket.write(data) && !this.pauses.has('output')) {
      this.pause('output');
      socket.once('drain', () => this.resume('output'));
    }
  }

  /** Error-counting reply: the `maxErrors`-th error ends the session with 421 4.7.0. */
  protected reply(rep: SmtpReply): void {
    this.write(rep);
    if (rep.code >= 400 && ++this.errors >= this.limits.maxErrors && !this.ended) {
      this.log.info({ errors: this.errors }, 'too many errors');
      this.write(r(421, '4.7.0', `${this.hostname} Error: too many errors`));
      this.end();
    }
  }

  /**
   * Ends the session after the queued replies. `quit`: the client asked (QUIT) and sent nothing
   * after it, so on plain TCP the replies go to the kernel and the socket closes at once. A
   * half-close would wait for the client's own close: one more system call and wake-up per
   * connection, and an error object for each client that resets instead of closing after QUIT
   * (many do). Otherwise (errors, timeouts, shutdown, TLS with its close_notify) it half-closes:
   * a close with input still unread would reset the connection and could lose the last reply.
   */
  protected end(quit = false): void {
    if (this.ended) return;
    this.ended = true;
    const socket = this.socket;
    if (quit && !(socket instanceof TLSSocket) && this.splitter.buffered === 0) {
      const data = this.out.join('');
      this.out = [];
      this.outBytes = 0;
      if (data === '' || socket.destroyed || !socket.writable) socket.destroy();
      // Destroyed from inside the write callback, the stream would build (stack trace and all) an
      // ERR_STREAM_DESTROYED for its finish callbacks right after: once per connection.
      else socket.write(data, () => process.nextTick(destroySocket, socket));
    } else {
      this.flush();
      socket.end();
    }
    // A client that never reads must not keep the socket open forever.
    socket.setTimeout(this.limits.idleTimeout, () => socket.destroy());
  }

  /**
   * Routes socket bytes to `consume` until it calls `done(rest)`; `rest` goes back to the command
   * splitter. Starts with the bytes already buffered after the command line.
   */
  protected receive(consume: (chunk: Buffer, done: (rest: Buffer) => void) => void): Promise<void> {
    return new Promise<void>((resolve) => {
      let finished = false;
      const done = (rest: Buffer) => {
        finished = true;
        this.sink = undefined;
        this.onLost = undefined;
        this.splitter.push(rest);
        this.socket.setTimeout(this.limits.idleTimeout);
        resolve();
      };
      this.sink = (chunk) => consume(chunk, done);
      this.onLost = resolve;
      this.socket.setTimeout(this.limits.dataBlockTimeout);
      const buffered = this.splitter.takeRemainder();
      if (buffered.length > 0) consume(buffered, done);
      // Waiting for the client now: whatever replies are queued must reach it.
      if (!finished) this.flush();
    });
  }

  /** Reads exactly `size` octets (BDAT). */
  protected receiveBytes(size: number, consume: (chunk: Buffer) => void): Promise<void> {
    let left = size;
    if (left === 0) return Promise.resolve();
    return this.receive((chunk, done) => {
      if (chunk.length < left) {
        left -= chunk.length;
        consume(chunk);
        return;
      }
      consume(chunk.subarray(0, left));
      const rest = chunk.subarray(left);
      left = 0;
      done(rest);
    });
  }
}

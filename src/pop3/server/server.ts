/**
 * The POP3 listener: accepts TCP (port 110, STLS per RFC 2595) or implicit TLS (port 995,
 * RFC 8314) connections and runs one Pop3Session per connection against a Pop3Backend.
 *
 * Failure semantics: over `maxConnections` a client gets `-ERR [SYS/TEMP]` and is closed; a failed
 * TLS handshake closes that connection only; `close()` stops accepting, tells idle sessions, lets
 * busy ones finish their command for `shutdownGraceMs`, then cuts the rest. No path deletes mail
 * except a client's QUIT in TRANSACTION state.
 */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, type SecureContext, TLSSocket } from 'node:tls';
import { type ConnInfo, LiveSet, newId, silentLogger } from '../../core/index.js';
import { formatErr, RESP_CODES } from '../codec/index.js';
import { LoginDelayPolicy } from './login-delay.js';
import {
  POP3_DEFAULT_LIMITS,
  type Pop3Limits,
  type Pop3ServerOptions,
  type Pop3TlsOptions,
} from './options.js';
import { loopbackTrusted, Pop3Session, type SessionContext } from './session.js';

export class Pop3Server {
  private readonly server: Server;
  private readonly sessions = new LiveSet<Pop3Session>();
  private secure: SecureContext | undefined;
  private readonly ctx: SessionContext;
  private readonly listenerName: string;
  private readonly implicitTls: boolean;
  readonly limits: Pop3Limits;

  constructor(opts: Pop3ServerOptions) {
    if (opts.implicitTls && !opts.tls) throw new TypeError('implicitTls needs tls { key, cert }');
    this.limits = { ...POP3_DEFAULT_LIMITS, ...opts.limits };
    this.implicitTls = opts.implicitTls ?? false;
    this.listenerName = opts.listener ?? (this.implicitTls ? 'pop3s' : 'pop3');
    if (opts.tls) this.setTlsContext(opts.tls);
    const log = (opts.logger ?? silentLogger).child({ listener: this.listenerName });
    this.ctx = {
      hostname: opts.hostname,
      backend: opts.backend,
      log,
      limits: this.limits,
      delays:
        opts.loginDelay instanceof LoginDelayPolicy ? opts.loginDelay : new LoginDelayPolicy(opts.loginDelay),
      allowPlainAuthWithoutTls: opts.allowPlainAuthWithoutTls ?? false,
      isTrustedClient: opts.isTrustedClient ?? loopbackTrusted,
      apop: opts.apop ?? false,
      secureContext: () => this.secure,
      ...(opts.onTrace ? { onTrace: opts.onTrace } : {}),
    };
    this.server = createServer((socket) => this.accept(socket));
    this.server.on('error', (err) => log.error({ err: err.message }, 'pop3 listener error'));
  }

  /** Starts listening; resolves the bound address (use port 0 for an ephemeral port). */
  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Replaces the certificate for new connections and STLS (e.g. after a renewal); live ones keep theirs. */
  setTlsContext(tls: Pop3TlsOptions): void {
    this.secure = createSecureContext({ key: tls.key, cert: tls.cert });
  }

  /** Open connections. */
  get connections(): number {
    return this.sessions.size;
  }

  /** Graceful stop; resolves when every session is closed and its maildrop released. */
  async close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const sessions = [...this.sessions];
    for (const s of sessions) s.shutdown();
    const all = Promise.all(sessions.map((s) => s.closed));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>(
      (r) => (timer = setTimeout(() => r('timeout'), this.limits.shutdownGraceMs)),
    );
    if ((await Promise.race([all, grace])) === 'timeout') {
      for (const s of this.sessions) s.destroy();
      await all;
    }
    clearTimeout(timer);
    await stopped;
  }

  private accept(raw: Socket) {
    raw.setNoDelay(true);
    if (this.sessions.size >= this.limits.maxConnections) {
      raw.on('error', () => {});
      raw.end(formatErr('Too many connections, try again later', RESP_CODES.sysTemp));
      this.ctx.log.warn({ remote: raw.remoteAddress }, 'pop3 connection refused: too many connections');
      return;
    }
    const conn: ConnInfo = {
      id: newId('p'),
      remoteAddress: raw.remoteAddress ?? '',
      remotePort: raw.remotePort ?? 0,
      localAddress: raw.localAddress ?? '',
      localPort: raw.localPort ?? 0,
      listener: this.listenerName,
      tls: false,
      esmtp: false,
    };
    let socket: Socket = raw;
    if (this.implicitTls) {
      socket = new TLSSocket(raw, { isServer: true, secureContext: this.secure! });
      conn.tls = true;
    }
    const session = new Pop3Session(socket, conn, this.ctx);
    this.sessions.add(session);
    void session.closed.then(() => this.sessions.delete(session));
    if (!this.implicitTls) return session.start();
    // Until the handshake is done the idle timer is not armed; this one bounds a silent peer.
    const handshake = setTimeout(() => socket.destroy(), Math.min(this.limits.idleTimeoutMs, 60_000));
    socket.once('secure', () => {
      clearTimeout(handshake);
      session.start();
    });
    socket.once('close', () => clearTimeout(handshake));
  }
}

/**
 * The composition root: builds the store, the mta backends and the protocol listeners from one
 * Config, and stops them in order. Nothing imports this folder but the CLI.
 *
 * Shutdown: listeners stop accepting first, open SMTP transactions and POP3 updates are given time
 * to finish (the protocol servers' graceful close), then the store flushes pending commits and
 * closes. A message that got 250 is already committed before that, so even a SIGKILL loses nothing.
 */
import type { AddressInfo } from 'node:net';
import type { Config, ListenerName } from '../config/index.js';
import type { Logger } from '../core/index.js';
import { Authenticator, hashPassword } from '../mta/auth/index.js';
import { InboundBackend, MaildropBackend } from '../mta/inbound/index.js';
import { Pop3Server } from '../pop3/index.js';
import { SmtpServer } from '../smtp/index.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { loadTls, type TlsMaterial, watchTls } from './tls.js';

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

interface Listener {
  name: ListenerName;
  listen(host: string, port: number): Promise<AddressInfo>;
  close(): Promise<void>;
  reloadTls(m: TlsMaterial): void;
}

export interface RunningServer {
  store: Store;
  /** Bound addresses by listener name (ports resolved when 0 was asked). */
  addresses: Partial<Record<ListenerName, AddressInfo>>;
  stop(): Promise<void>;
}

export const DEMO = { domain: 'uu.ac.kr', user: 'kihyun@uu.ac.kr', password: 'kihyun0' };

async function ensureDemoAccount(store: Store, logger: Logger): Promise<void> {
  if (!(await store.domains.has(DEMO.domain))) await store.domains.add(DEMO.domain);
  if (!(await store.users.get(DEMO.user))) {
    await store.users.add({ address: DEMO.user, passwordHash: await hashPassword(DEMO.password) });
    logger.info({ user: DEMO.user }, `demo user created (password ${DEMO.password})`);
  }
}

function bindError(err: NodeJS.ErrnoException, name: string, host: string, port: number): StartupError {
  const where = `${name} on ${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (err.code === 'EADDRINUSE')
    return new StartupError(`cannot listen for ${where}: the port is already in use`);
  if (err.code === 'EACCES') {
    return new StartupError(`cannot listen for ${where}: permission denied (ports below 1024 need root)`);
  }
  if (err.code === 'EADDRNOTAVAIL')
    return new StartupError(`cannot listen for ${where}: no such local address`);
  return new StartupError(`cannot listen for ${where}: ${err.message}`);
}

export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  let store: Store;
  try {
    store = await openStore(config.storeUrl, { logger });
  } catch (err) {
    throw new StartupError(`cannot open the store ${config.storeUrl}: ${(err as Error).message}`);
  }
  const listeners: Listener[] = [];
  const stops: Array<() => void> = [];
  const addresses: RunningServer['addresses'] = {};
  try {
    if (config.demo) await ensureDemoAccount(store, logger);
    if ((await store.domains.list()).length === 0) {
      logger.warn(
        'no domains yet: add one with `posthorn domain add example.org`, then a user with `posthorn user add you@example.org`',
      );
    }
    const tls = await loadTls({
      certFile: config.tls.cert,
      keyFile: config.tls.key,
      dataDir: config.dataDir,
      hostname: config.hostname,
    });
    const authenticator = new Authenticator(store, { defaultDomain: config.hostname });
    const smtpBackend = new InboundBackend({
      store,
      hostname: config.hostname,
      logger,
      authenticator,
      vrfy: config.smtp.vrfy,
    });
    const pop3Backend = new MaildropBackend(store, authenticator, logger);
    const smtpLimits = {
      maxMessageSize: config.smtp.maxMessageSize,
      maxRecipients: config.smtp.maxRecipients,
      maxConnections: config.smtp.maxConnections,
      maxConnectionsPerIp: config.smtp.maxConnectionsPerIp,
      maxErrors: config.smtp.maxErrors,
    };
    const tlsOpt = { key: tls.key, cert: tls.cert };

    for (const name of ['smtp', 'submission', 'smtps'] as const) {
      if (!config.listen[name]) continue;
      const server = new SmtpServer({
        hostname: config.hostname,
        backend: smtpBackend,
        logger,
        listener: name,
        tls: tlsOpt,
        implicitTls: name === 'smtps',
        requireAuth: name !== 'smtp',
        limits: smtpLimits,
      });
      listeners.push({
        name,
        listen: (h, p) => server.listen(h, p),
        close: () => server.close(),
        reloadTls: (m) => server.setTlsContext(m.context),
      });
    }
    for (const name of ['pop3', 'pop3s'] as const) {
      if (!config.listen[name]) continue;
      const server = new Pop3Server({
        hostname: config.hostname,
        backend: pop3Backend,
        logger,
        listener: name,
        tls: tlsOpt,
        implicitTls: name === 'pop3s',
        allowPlainAuthWithoutTls: config.pop3.allowPlainAuth,
        apop: config.pop3.apop,
        limits: { idleTimeoutMs: config.pop3.idleTimeoutSec * 1000 },
      });
      listeners.push({
        name,
        listen: (h, p) => server.listen(h, p),
        close: () => server.close(),
        reloadTls: (m) => server.setTlsContext({ key: m.key, cert: m.cert }),
      });
    }
    if (config.listen.web) logger.warn('the web interface is not available yet; --web is ignored');

    for (const l of listeners) {
      const at = config.listen[l.name]!;
      try {
        const addr = await l.listen(at.host, at.port);
        addresses[l.name] = addr;
        logger.info({ listener: l.name, address: addr.address, port: addr.port }, 'listening');
      } catch (err) {
        throw bindError(err as NodeJS.ErrnoException, l.name, at.host, at.port);
      }
    }
    if (config.tls.cert && config.tls.key) {
      stops.push(
        watchTls(config.tls.cert, config.tls.key, logger, (m) => {
          for (const l of listeners) l.reloadTls(m);
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled(listeners.map((l) => l.close()));
    await store.close();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    store,
    addresses,
    stop() {
      stopping ??= (async () => {
        for (const s of stops) s();
        await Promise.allSettled(listeners.map((l) => l.close()));
        await store.close();
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}

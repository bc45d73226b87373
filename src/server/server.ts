/**
 * The composition root: builds the store, the mta backends and the protocol listeners from one
 * Config, and stops them in order. Nothing imports this folder but the CLI.
 *
 * Shutdown: listeners stop accepting first, open SMTP transactions and POP3 updates are given time
 * to finish (the protocol servers' graceful close), then the store flushes pending commits and
 * closes. A message that got 250 is already committed before that, so even a SIGKILL loses nothing.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Config, ListenerName } from '../config/index.js';
import type { DnsResolver, Logger } from '../core/index.js';
import { Authenticator, hashPassword } from '../mta/auth/index.js';
import { InboundBackend, MaildropBackend } from '../mta/inbound/index.js';
import { type DkimKey, loadDkimKeys, QueueRunner, type RelayHost } from '../mta/outbound/index.js';
import { Pop3Server } from '../pop3/index.js';
import { SmtpServer } from '../smtp/index.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { SessionTrace } from '../web/session-trace.js';
import { loadTls, type TlsMaterial, watchTls } from './tls.js';

/** How long a shutdown waits for after-commit work (auto-replies, notices) to finish. */
const SETTLE_TIMEOUT_MS = 10_000;

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
  /** The outbound queue runner (undefined when `queue.enabled = false`). */
  queue?: QueueRunner;
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

/** The SRS secret: from the config, else a random one kept in the data dir (same across restarts). */
function srsSecret(config: Config): string {
  if (config.outbound.srsSecret) return config.outbound.srsSecret;
  const file = join(config.dataDir, 'srs-secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const secret = randomBytes(24).toString('base64url');
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return readFileSync(file, 'utf8').trim();
  }
}

const relayHost = (r: Config['outbound']['routes'][string]): RelayHost => ({
  host: r.host,
  port: r.port,
  tls: r.tls,
  ...(r.verifyTls !== undefined ? { verifyTls: r.verifyTls } : {}),
  ...(r.auth ? { auth: r.auth } : {}),
});

/** DKIM keys from the data dir, re-read at most every 30 s so a new key applies without restart. */
function dkimKeyCache(dataDir: string): () => Map<string, DkimKey> {
  let keys = new Map<string, DkimKey>();
  let at = 0;
  return () => {
    if (Date.now() - at > 30_000) {
      keys = loadDkimKeys(dataDir);
      at = Date.now();
    }
    return keys;
  };
}

export interface StartOptions {
  /** DNS for MX lookups (tests pass a FakeResolver); default node:dns. */
  resolver?: DnsResolver;
}

export async function startServer(
  config: Config,
  logger: Logger,
  startOpts: StartOptions = {},
): Promise<RunningServer> {
  let store: Store;
  try {
    store = await openStore(config.storeUrl, { logger });
  } catch (err) {
    throw new StartupError(`cannot open the store ${config.storeUrl}: ${(err as Error).message}`);
  }
  const listeners: Listener[] = [];
  const stops: Array<() => void> = [];
  let settle: () => Promise<void> = async () => {};
  const addresses: RunningServer['addresses'] = {};
  let queue: QueueRunner | undefined;
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
    const out = config.outbound;
    const retry = {
      minBackoffMs: out.minBackoffMs,
      maxBackoffMs: out.maxBackoffMs,
      maxAgeMs: out.maxAgeMs,
      delayWarningMs: out.delayWarningMs,
    };
    const secret = srsSecret(config);
    if (out.enabled) {
      const routes: Record<string, RelayHost> = {};
      for (const [d, r] of Object.entries(out.routes)) routes[d] = relayHost(r);
      queue = new QueueRunner({
        store,
        hostname: config.hostname,
        logger,
        resolver: startOpts.resolver ?? new (await import('node:dns')).promises.Resolver(),
        routing: { routes, ...(out.smarthost ? { smarthost: relayHost(out.smarthost) } : {}) },
        retry,
        limits: {
          concurrency: out.concurrency,
          perDestination: out.perDestination,
          pollMs: out.pollMs,
          leaseMs: out.leaseMs,
        },
        dkimKeys: dkimKeyCache(config.dataDir),
        srsSecret: secret,
      });
    }
    const runner = queue;
    const smtpBackend = new InboundBackend({
      store,
      hostname: config.hostname,
      logger,
      authenticator,
      vrfy: config.smtp.vrfy,
      retry,
      srsSecret: secret,
      onQueued: () => runner?.wake(),
    });
    settle = () => smtpBackend.settle();
    const pop3Backend = new MaildropBackend(store, authenticator, logger);
    const smtpLimits = {
      maxMessageSize: config.smtp.maxMessageSize,
      maxRecipients: config.smtp.maxRecipients,
      maxConnections: config.smtp.maxConnections,
      maxConnectionsPerIp: config.smtp.maxConnectionsPerIp,
      maxErrors: config.smtp.maxErrors,
    };
    const tlsOpt = { key: tls.key, cert: tls.cert };
    // Transcripts are kept only for someone who can see them: the web admin console.
    const trace = config.listen.web && config.web.sessionTrace ? new SessionTrace() : undefined;
    const onTrace = trace ? { onTrace: trace.record } : {};

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
        ...onTrace,
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
        ...onTrace,
      });
      listeners.push({
        name,
        listen: (h, p) => server.listen(h, p),
        close: () => server.close(),
        reloadTls: (m) => server.setTlsContext({ key: m.key, cert: m.cert }),
      });
    }
    if (config.listen.web) {
      // Loaded only when the web listener is on: fastify and the routes are a few MB of heap.
      const { createWebServer } = await import('../web/server.js');
      // HTTPS only with a configured certificate: a self-signed one would only scare browsers.
      const web = await createWebServer({
        store,
        authenticator,
        backend: smtpBackend,
        hostname: config.hostname,
        logger,
        ...(config.tls.cert && config.tls.key ? { tls: tlsOpt } : {}),
        limits: { maxMessageBytes: config.smtp.maxMessageSize },
        dataDir: config.dataDir,
        ...(trace ? { sessionTrace: trace } : {}),
      });
      listeners.push({
        name: 'web',
        listen: (h, p) => web.listen(h, p),
        close: () => web.close(),
        reloadTls: (m) => web.reloadTls(m),
      });
    }

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
    if (queue) {
      queue.start();
      logger.info(
        { routes: Object.keys(config.outbound.routes).length, smarthost: !!config.outbound.smarthost },
        'outbound queue running',
      );
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
    await queue?.stop();
    await store.close();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    store,
    ...(queue ? { queue } : {}),
    addresses,
    stop() {
      stopping ??= (async () => {
        for (const s of stops) s();
        await Promise.allSettled(listeners.map((l) => l.close()));
        // Auto-replies and notices of mail already accepted go out before the store closes
        // (bounded: a stuck one must not hold the shutdown).
        await Promise.race([settle(), new Promise((r) => setTimeout(r, SETTLE_TIMEOUT_MS).unref())]);
        await queue?.stop();
        await store.close();
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}

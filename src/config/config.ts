/**
 * One typed, validated Config from defaults ← TOML file ← environment ← command-line flags
 * (flags win over the file, the file over defaults). Every problem is a ConfigError whose message
 * names the file, key or flag: the CLI prints that one line and exits non-zero.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ListenAddr {
  host: string;
  port: number;
}

export const LISTENERS = ['smtp', 'submission', 'smtps', 'pop3', 'pop3s', 'web'] as const;
export type ListenerName = (typeof LISTENERS)[number];

export interface SmtpLimits {
  /** RFC 1870 SIZE; 552 past it. */
  maxMessageSize: number;
  /** RFC 5321 §4.5.3.1.8 requires at least 100; 452 past it. */
  maxRecipients: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Bad commands before 421 and close. */
  maxErrors: number;
}

/** A static route or the smarthost (`[routes]`, `[smarthost]`). */
export interface RelayConfig {
  host: string;
  port: number;
  /** 'none' | 'starttls' (opportunistic, default) | 'starttls-required' | 'implicit'. */
  tls: 'none' | 'starttls' | 'starttls-required' | 'implicit';
  /** Verify the server certificate (default: only when TLS is required or implicit). */
  verifyTls?: boolean;
  auth?: { username: string; password: string };
}

/** The outbound queue (`[queue]`, `[routes]`, `[smarthost]`, `[srs]`); durations in ms. */
export interface OutboundConfig {
  routes: Record<string, RelayConfig>;
  smarthost?: RelayConfig;
  minBackoffMs: number;
  maxBackoffMs: number;
  maxAgeMs: number;
  /** NOTIFY=DELAY recipients still pending after this get one "delayed" notice. */
  delayWarningMs: number;
  concurrency: number;
  perDestination: number;
  pollMs: number;
  leaseMs: number;
  /** SRS secret; default: generated into the data dir (`srs-secret`) on first start. */
  srsSecret?: string;
  /** Run the queue runner in this process (default true; `false` for accept-only nodes). */
  enabled: boolean;
}

export interface Config {
  hostname: string;
  dataDir: string;
  /** `sqlite:PATH` (default, in the data dir), `memory:`, later `postgres://…`. */
  storeUrl: string;
  listen: Record<ListenerName, ListenAddr | null>;
  tls: { cert?: string; key?: string };
  smtp: SmtpLimits & { vrfy: boolean };
  pop3: { allowPlainAuth: boolean; apop: boolean; idleTimeoutSec: number };
  log: { level: string };
  /** `[web] session_trace`: recent SMTP/POP3 transcripts for the admin console (bounded, in memory). */
  web: { sessionTrace: boolean };
  outbound: OutboundConfig;
  /** The course demo: loopback only, demo domain/user created. */
  demo: boolean;
  /** Where the config came from, for messages. */
  source?: string;
}

export const DEFAULT_PORTS: Record<ListenerName, number> = {
  smtp: 25,
  submission: 587,
  smtps: 465,
  pop3: 110,
  pop3s: 995,
  web: 8080,
};

export function defaultConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = resolve(env.POSTHORN_DATA || 'data');
  const listen = {} as Record<ListenerName, ListenAddr | null>;
  for (const l of LISTENERS) listen[l] = { host: '0.0.0.0', port: DEFAULT_PORTS[l] };
  return {
    hostname: env.POSTHORN_HOSTNAME || 'localhost',
    dataDir,
    storeUrl: env.POSTHORN_STORE || '',
    listen,
    tls: {},
    smtp: {
      maxMessageSize: 25 * 1024 * 1024,
      maxRecipients: 100,
      maxConnections: 20000,
      maxConnectionsPerIp: 200,
      maxErrors: 10,
      vrfy: false,
    },
    pop3: { allowPlainAuth: false, apop: false, idleTimeoutSec: 600 },
    log: { level: env.POSTHORN_LOG_LEVEL || 'info' },
    web: { sessionTrace: true },
    // Postfix-like: first retry after 5 min, backoff up to ~67 min, give up after 5 days.
    outbound: {
      routes: {},
      minBackoffMs: 300_000,
      maxBackoffMs: 4_000_000,
      maxAgeMs: 5 * 86_400_000,
      delayWarningMs: 4 * 3_600_000,
      concurrency: 100,
      perDestination: 20,
      pollMs: 5_000,
      leaseMs: 600_000,
      enabled: true,
    },
    demo: false,
  };
}

/** `host:port`, `:port`, `[v6]:port`, a bare port, or `off`. */
export function parseListenAddr(text: string, what: string): ListenAddr | null {
  const t = text.trim();
  if (t === 'off' || t === 'none' || t === '') return null;
  let host = '0.0.0.0';
  let portText = t;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(t);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
  } else if (t.includes(':')) {
    const i = t.lastIndexOf(':');
    host = t.slice(0, i) || '0.0.0.0';
    portText = t.slice(i + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new ConfigError(`${what}: '${text}' is not host:port or 'off'`);
  }
  return { host, port };
}

export function formatListenAddr(a: ListenAddr): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function expect(cond: boolean, where: string, message: string): asserts cond {
  if (!cond) throw new ConfigError(`${where}: ${message}`);
}

function positiveInt(v: unknown, where: string): number {
  expect(typeof v === 'number' && Number.isInteger(v) && v > 0, where, 'must be a positive integer');
  return v as number;
}

function str(v: unknown, where: string): string {
  expect(typeof v === 'string' && v.length > 0, where, 'must be a non-empty string');
  return v as string;
}

/** Seconds (fractions allowed, for tests) → ms. */
function seconds(v: unknown, where: string): number {
  expect(typeof v === 'number' && Number.isFinite(v) && v > 0, where, 'must be a positive number of seconds');
  return Math.max(1, Math.round((v as number) * 1000));
}

const TLS_MODES = ['none', 'starttls', 'starttls-required', 'implicit'] as const;

/** `host:port` (or `[v6]:port`); port 25 when absent. */
function relayAddr(v: unknown, where: string): { host: string; port: number } {
  const t = str(v, where).trim();
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(t) ?? /^([^:\s[\]]+)(?::(\d+))?$/.exec(t);
  const port = m?.[2] ? Number(m[2]) : 25;
  expect(!!m && port >= 1 && port <= 65535, where, `'${t}' is not host:port`);
  return { host: m![1]!, port };
}

/** `[routes]`: `"domain" = "host:port"` or an inline table like `[smarthost]`. */
function routeEntry(v: unknown, where: string): RelayConfig {
  if (typeof v === 'string') return { ...relayAddr(v, where), tls: 'starttls' };
  return relayTable(table(v, where), where);
}

function relayTable(t: Record<string, unknown>, where: string): RelayConfig {
  const known = ['host', 'port', 'tls', 'verify_tls', 'user', 'password'];
  for (const k of Object.keys(t))
    if (!known.includes(k)) throw new ConfigError(`${where}: unknown key '${k}'`);
  const host = str(t.host, `${where}.host`);
  const r: RelayConfig = {
    host,
    port: t.port === undefined ? 25 : positiveInt(t.port, `${where}.port`),
    tls: 'starttls',
  };
  if (t.tls !== undefined) {
    const mode = str(t.tls, `${where}.tls`);
    expect(
      (TLS_MODES as readonly string[]).includes(mode),
      `${where}.tls`,
      `must be one of ${TLS_MODES.join(', ')}`,
    );
    r.tls = mode as RelayConfig['tls'];
  }
  if (t.verify_tls !== undefined) r.verifyTls = bool(t.verify_tls, `${where}.verify_tls`);
  if (t.user !== undefined || t.password !== undefined) {
    r.auth = { username: str(t.user, `${where}.user`), password: str(t.password, `${where}.password`) };
  }
  return r;
}

/** Tables whose keys are names we do not know in advance (domains). */
const DYNAMIC_TABLES: Record<string, (cfg: Config, t: Record<string, unknown>, where: string) => void> = {
  routes: (c, t, w) => {
    for (const [domain, v] of Object.entries(t))
      c.outbound.routes[domain.toLowerCase()] = routeEntry(v, `${w}.${domain}`);
  },
  smarthost: (c, t, w) => (c.outbound.smarthost = relayTable(t, w)),
};

function bool(v: unknown, where: string): boolean {
  expect(typeof v === 'boolean', where, 'must be true or false');
  return v as boolean;
}

function table(v: unknown, where: string): Record<string, unknown> {
  expect(typeof v === 'object' && v !== null && !Array.isArray(v), where, 'must be a table');
  return v as Record<string, unknown>;
}

type Setter = (cfg: Config, v: unknown, where: string) => void;

/** Every key the file may hold; anything else is an error naming it (typos do not pass silently). */
const FILE_KEYS: Record<string, Setter> = {
  hostname: (c, v, w) => (c.hostname = str(v, w)),
  data: (c, v, w) => (c.dataDir = resolve(str(v, w))),
  'store.url': (c, v, w) => (c.storeUrl = str(v, w)),
  'tls.cert': (c, v, w) => (c.tls.cert = str(v, w)),
  'tls.key': (c, v, w) => (c.tls.key = str(v, w)),
  'smtp.max_message_size': (c, v, w) => (c.smtp.maxMessageSize = positiveInt(v, w)),
  'smtp.max_recipients': (c, v, w) => (c.smtp.maxRecipients = positiveInt(v, w)),
  'smtp.max_connections': (c, v, w) => (c.smtp.maxConnections = positiveInt(v, w)),
  'smtp.max_connections_per_ip': (c, v, w) => (c.smtp.maxConnectionsPerIp = positiveInt(v, w)),
  'smtp.max_errors': (c, v, w) => (c.smtp.maxErrors = positiveInt(v, w)),
  'smtp.vrfy': (c, v, w) => (c.smtp.vrfy = bool(v, w)),
  'pop3.allow_plain_auth': (c, v, w) => (c.pop3.allowPlainAuth = bool(v, w)),
  'pop3.apop': (c, v, w) => (c.pop3.apop = bool(v, w)),
  'pop3.idle_timeout': (c, v, w) => (c.pop3.idleTimeoutSec = positiveInt(v, w)),
  'log.level': (c, v, w) => (c.log.level = str(v, w)),
  'web.session_trace': (c, v, w) => (c.web.sessionTrace = bool(v, w)),
  'queue.min_backoff': (c, v, w) => (c.outbound.minBackoffMs = seconds(v, w)),
  'queue.max_backoff': (c, v, w) => (c.outbound.maxBackoffMs = seconds(v, w)),
  'queue.max_age': (c, v, w) => (c.outbound.maxAgeMs = seconds(v, w)),
  'queue.delay_warning': (c, v, w) => (c.outbound.delayWarningMs = seconds(v, w)),
  'queue.poll_interval': (c, v, w) => (c.outbound.pollMs = seconds(v, w)),
  'queue.lease': (c, v, w) => (c.outbound.leaseMs = seconds(v, w)),
  'queue.concurrency': (c, v, w) => (c.outbound.concurrency = positiveInt(v, w)),
  'queue.per_destination': (c, v, w) => (c.outbound.perDestination = positiveInt(v, w)),
  'queue.enabled': (c, v, w) => (c.outbound.enabled = bool(v, w)),
  'srs.secret': (c, v, w) => (c.outbound.srsSecret = str(v, w)),
};
for (const l of LISTENERS) {
  FILE_KEYS[`listen.${l}`] = (c, v, w) => (c.listen[l] = parseListenAddr(str(v, w), w));
}

function applyFile(cfg: Config, file: string): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    const e = err as { line?: number; message: string };
    throw new ConfigError(`${file}${e.line ? `:${e.line}` : ''}: ${e.message.split('\n')[0]}`);
  }
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}.${k}` : k;
      const setter = FILE_KEYS[key];
      const dynamic = DYNAMIC_TABLES[key];
      if (setter) setter(cfg, v, `${file}: ${key}`);
      else if (dynamic) dynamic(cfg, table(v, `${file}: ${key}`), `${file}: ${key}`);
      else if (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)) {
        walk(table(v, `${file}: ${key}`), key);
      } else throw new ConfigError(`${file}: unknown key '${key}'`);
    }
  };
  walk(doc, '');
  cfg.source = file;
}

/** Options as commander hands them to `serve`. */
export interface ServeFlags {
  config?: string;
  data?: string;
  store?: string;
  hostname?: string;
  smtp?: string;
  submission?: string;
  smtps?: string;
  pop3?: string;
  pop3s?: string;
  web?: string;
  demo?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  logLevel?: string;
  /** `domain=host:port`, repeatable: a static route (adds to `[routes]`). */
  route?: string[];
  /** `host:port`: send everything through this smarthost. */
  smarthost?: string;
}

export function loadConfig(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): Config {
  const cfg = defaultConfig(env);
  const file = flags.config ?? env.POSTHORN_CONFIG;
  if (file) applyFile(cfg, file);
  if (flags.data) cfg.dataDir = resolve(flags.data);
  if (flags.store) cfg.storeUrl = flags.store;
  if (flags.hostname) cfg.hostname = flags.hostname;
  if (flags.tlsCert) cfg.tls.cert = flags.tlsCert;
  if (flags.tlsKey) cfg.tls.key = flags.tlsKey;
  if (flags.logLevel) cfg.log.level = flags.logLevel;
  if (flags.demo) {
    // The course's demo: loopback only, so a laptop never becomes a server for the world.
    cfg.demo = true;
    if (!flags.hostname && cfg.hostname === 'localhost') cfg.hostname = 'uu.ac.kr';
    for (const l of LISTENERS)
      if (cfg.listen[l]) cfg.listen[l] = { host: '127.0.0.1', port: cfg.listen[l]!.port };
  }
  for (const l of LISTENERS) {
    const v = flags[l];
    if (v !== undefined) cfg.listen[l] = parseListenAddr(v, `--${l}`);
  }
  for (const r of flags.route ?? []) {
    const eq = r.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--route: '${r}' is not domain=host:port`);
    cfg.outbound.routes[r.slice(0, eq).trim().toLowerCase()] = {
      ...relayAddr(r.slice(eq + 1), '--route'),
      tls: 'starttls',
    };
  }
  if (flags.smarthost)
    cfg.outbound.smarthost = { ...relayAddr(flags.smarthost, '--smarthost'), tls: 'starttls' };
  if (cfg.outbound.minBackoffMs > cfg.outbound.maxBackoffMs) {
    throw new ConfigError('queue: min_backoff must not exceed max_backoff');
  }
  if (!cfg.storeUrl) cfg.storeUrl = `sqlite:${resolve(cfg.dataDir, 'posthorn.db')}`;
  if (Boolean(cfg.tls.cert) !== Boolean(cfg.tls.key)) {
    throw new ConfigError('tls: give both a certificate and a key (tls.cert and tls.key)');
  }
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
  if (!levels.includes(cfg.log.level)) {
    throw new ConfigError(`log level '${cfg.log.level}' is not one of ${levels.join(', ')}`);
  }
  return cfg;
}

/** The store URL admin commands use: --store, $POSTHORN_STORE, else the SQLite file in the data dir. */
export function storeUrlFor(
  opts: { data?: string; store?: string },
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (opts.store) return opts.store;
  if (env.POSTHORN_STORE) return env.POSTHORN_STORE;
  const dir = resolve(opts.data || env.POSTHORN_DATA || 'data');
  return `sqlite:${resolve(dir, 'posthorn.db')}`;
}

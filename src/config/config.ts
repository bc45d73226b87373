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
  // The web UI arrives with its own issue; until then nothing listens there by default.
  listen.web = null;
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
      if (setter) setter(cfg, v, `${file}: ${key}`);
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

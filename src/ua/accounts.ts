/**
 * Mail accounts of the user agent (the "MTA settings" of a mail program): one TOML file,
 * accounts.toml in the config dir, naming the address, the submission server (RFC 6409), the POP3
 * server (RFC 1939) and how to protect them (RFC 3207 / RFC 2595 STARTTLS, RFC 8314 implicit TLS).
 *
 * Passwords never go into accounts.toml: each lives in passwords/NAME (mode 0600, directory 0700),
 * or comes from an environment variable or a command's standard output at the moment it is needed.
 * Nothing here prints a password.
 *
 * Failure semantics: a malformed file or unknown account throws UaError with a one-line message;
 * writes go to a temporary file and are renamed over the old one, so a crash never leaves half a
 * file.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'smol-toml';
import { configDir } from './paths.js';

/** A failure the user can act on; the CLI prints its message as one line. */
export class UaError extends Error {
  override name = 'UaError';
}

export type UaTls = 'starttls' | 'implicit' | 'none';

export interface Endpoint {
  host: string;
  port: number;
}

export interface Account {
  name: string;
  /** The From address. */
  address: string;
  /** Display name for From, optional. */
  fullName?: string;
  smtp: Endpoint;
  pop3: Endpoint;
  tls: UaTls;
  /** Verify the servers' certificates (default true). */
  tlsVerify: boolean;
  /** Login name on both servers (default: the address). */
  user: string;
  /**
   * false: submit without SMTP AUTH, for relays that trust the client's network (a LAN smarthost).
   * Default true: a mail program authenticates (RFC 6409 §4.3).
   */
  smtpAuth?: boolean;
  /** A shell command printing the password on its first line. */
  passwordCommand?: string;
  /** An environment variable holding the password. */
  passwordEnv?: string;
}

interface AccountsFile {
  default?: string;
  accounts: Record<string, Omit<Account, 'name' | 'smtp' | 'pop3'> & { smtp: string; pop3: string }>;
}

/** Longest a password command may take (it may ask a keyring or a hardware token). */
export const PASSWORD_COMMAND_TIMEOUT_MS = 30_000;
/** An account name is a file name too. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkAccountName(name: string): string {
  if (!NAME.test(name)) throw new UaError(`'${name}' is not a valid account name (letters, digits, . _ -)`);
  return name;
}

/** Default ports: submission 587 / submissions 465 (RFC 8314), pop3 110 / pop3s 995. */
export function parseEndpoint(text: string, kind: 'smtp' | 'pop3', tls: UaTls): Endpoint {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) throw new UaError(`'${text}' is not HOST or HOST:PORT`);
  const host = (m[1] ?? m[2])!;
  const defaults = kind === 'smtp' ? [587, 465] : [110, 995];
  const port = m[3] !== undefined ? Number(m[3]) : defaults[tls === 'implicit' ? 1 : 0]!;
  if (!(port > 0 && port < 65536)) throw new UaError(`'${text}': port out of range`);
  return { host, port };
}

function formatEndpoint(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** The accounts file and password files of one config dir. */
export class AccountBook {
  readonly dir: string;
  constructor(dir: string = configDir()) {
    this.dir = dir;
  }

  private get file(): string {
    return join(this.dir, 'accounts.toml');
  }

  private passwordFile(name: string): string {
    return join(this.dir, 'passwords', checkAccountName(name));
  }

  private async load(): Promise<AccountsFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { accounts: {} };
      throw err;
    }
    try {
      const doc = parse(text) as unknown as AccountsFile;
      return { default: doc.default, accounts: doc.accounts ?? {} };
    } catch (err) {
      throw new UaError(`${this.file}: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  private async save(doc: AccountsFile): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const out: Record<string, unknown> = {};
    if (doc.default) out.default = doc.default;
    out.accounts = doc.accounts;
    await writeFile(tmp, stringify(out) + '\n', { mode: 0o600 });
    await rename(tmp, this.file);
  }

  private static fromFile(name: string, raw: AccountsFile['accounts'][string]): Account {
    const tls = raw.tls ?? 'starttls';
    return {
      ...raw,
      name,
      tls,
      tlsVerify: raw.tlsVerify ?? true,
      user: raw.user ?? raw.address,
      smtp: parseEndpoint(String(raw.smtp), 'smtp', tls),
      pop3: parseEndpoint(String(raw.pop3), 'pop3', tls),
    };
  }

  async list(): Promise<{ accounts: Account[]; defaultName: string | undefined }> {
    const doc = await this.load();
    const accounts = Object.entries(doc.accounts).map(([n, a]) => AccountBook.fromFile(n, a));
    return { accounts, defaultName: doc.default ?? accounts[0]?.name };
  }

  /** The named account, else the default one, else the only one. */
  async get(name?: string): Promise<Account> {
    const { accounts, defaultName } = await this.list();
    if (accounts.length === 0) throw new UaError('no account yet: add one with `posthorn account add NAME`');
    const want = name ?? defaultName;
    const a = accounts.find((x) => x.name === want);
    if (!a) throw new UaError(`no account named '${want}' (see posthorn account list)`);
    return a;
  }

  /** Adds (or replaces) an account; the first account becomes the default. */
  async add(account: Account, password?: string): Promise<void> {
    checkAccountName(account.name);
    const doc = await this.load();
    const { name, smtp, pop3, ...rest } = account;
    const entry = { ...rest, smtp: formatEndpoint(smtp), pop3: formatEndpoint(pop3) };
    for (const k of Object.keys(entry) as Array<keyof typeof entry>)
      if (entry[k] === undefined) delete entry[k];
    doc.accounts[name] = entry;
    if (!doc.default) doc.default = name;
    if (password !== undefined) await this.storePassword(name, password);
    await this.save(doc);
  }

  async remove(name: string): Promise<void> {
    const doc = await this.load();
    if (!doc.accounts[name]) throw new UaError(`no account named '${name}'`);
    delete doc.accounts[name];
    if (doc.default === name) doc.default = Object.keys(doc.accounts)[0];
    await this.save(doc);
    await rm(this.passwordFile(name), { force: true });
  }

  async setDefault(name: string): Promise<void> {
    const doc = await this.load();
    if (!doc.accounts[name]) throw new UaError(`no account named '${name}'`);
    doc.default = name;
    await this.save(doc);
  }

  async storePassword(name: string, password: string): Promise<void> {
    const dir = join(this.dir, 'passwords');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const file = this.passwordFile(name);
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, password, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  }

  /** Where the password comes from, for `account list` (never the password itself). */
  async passwordSource(a: Account): Promise<string> {
    if (a.passwordCommand) return 'command';
    if (a.passwordEnv) return `env ${a.passwordEnv}`;
    try {
      await stat(this.passwordFile(a.name));
      return 'file';
    } catch {
      return 'none';
    }
  }

  /** Command, then environment variable, then the 0600 file. */
  async password(a: Account, env: NodeJS.ProcessEnv = process.env): Promise<string> {
    if (a.passwordCommand) return runPasswordCommand(a.passwordCommand);
    if (a.passwordEnv) {
      const v = env[a.passwordEnv];
      if (v === undefined || v === '') throw new UaError(`environment variable ${a.passwordEnv} is not set`);
      return v;
    }
    const file = this.passwordFile(a.name);
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(file);
    } catch {
      throw new UaError(`no password stored for '${a.name}' (posthorn account add ${a.name} again)`);
    }
    // Like ssh with a private key: refuse a password file others can read.
    if ((st.mode & 0o077) !== 0) throw new UaError(`${file} is readable by others; chmod 600 it`);
    return readFile(file, 'utf8');
  }
}

function runPasswordCommand(cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      '/bin/sh',
      ['-c', cmd],
      { timeout: PASSWORD_COMMAND_TIMEOUT_MS, maxBuffer: 64 * 1024 },
      (err, stdout) => {
        if (err) return reject(new UaError(`password command failed: ${err.message.split('\n')[0]}`));
        const pw = stdout.split(/\r?\n/)[0] ?? '';
        if (!pw) return reject(new UaError('password command printed nothing'));
        resolve(pw);
      },
    );
  });
}

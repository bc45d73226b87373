/**
 * A running Posthorn server with two local users, and the `posthorn` user agent (src/cli/main.ts)
 * whose XDG config and data dirs live in a temp dir of the test.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { storeUrlFor } from '../../src/config/index.js';
import { hashPassword } from '../../src/mta/auth/index.js';
import { SmtpClient } from '../../src/smtp/client/index.js';
import { openStore } from '../../src/store/index.js';
import { AccountBook, configDir, parseEndpoint } from '../../src/ua/index.js';
import { type ServerProcess, startServe } from '../support/posthorn.js';
import { tempDir } from '../support/tmp.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const entry = 'src/cli/main.ts';

export interface UaResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Server {
  data: string;
  /** Stops the server and removes its data dir. */
  close(): Promise<void>;
  proc: ServerProcess;
  submission: number;
  pop3: number;
  smtp: number;
}

export const DOMAIN = 'example.test';
export const PASSWORD = 'pässwörd-1';

/** Starts `posthorn serve` with submission and POP3 on ephemeral ports; adds the users. */
export async function startServer(users: string[]): Promise<Server> {
  // Not tempDir(): called from a before() hook, its after() would remove the dir right away.
  const data = mkdtempSync(join(tmpdir(), 'posthorn-ua-srv-'));
  // In-process rather than `posthorn domain add` / `user add`: each CLI start costs a second or two.
  const store = await openStore(storeUrlFor({ data }));
  try {
    await store.domains.add(DOMAIN);
    const hash = await hashPassword(PASSWORD);
    for (const address of users) await store.users.add({ address, passwordHash: hash });
  } finally {
    await store.close();
  }
  const proc = await startServe(data, ['--submission', '127.0.0.1:0'], ['smtp', 'submission', 'pop3']);
  const close = async () => {
    await proc.stop();
    rmSync(data, { recursive: true, force: true });
  };
  return {
    data,
    proc,
    close,
    submission: proc.ports.submission!,
    pop3: proc.ports.pop3!,
    smtp: proc.ports.smtp!,
  };
}

/** A user's private environment: its own XDG config and data dirs. */
export function userEnv(): NodeJS.ProcessEnv {
  const home = tempDir('posthorn-ua-home-');
  return {
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    EDITOR: 'false',
    VISUAL: '',
  };
}

export function ua(args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<UaResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(input);
  });
}

/** Runs a UA command that must succeed; returns its standard output. */
export async function uaOk(args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<string> {
  const r = await ua(args, env, input);
  if (r.code !== 0) throw new Error(`posthorn ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** `account add` for a local user of the test server, plain text on loopback. */
export async function addAccount(env: NodeJS.ProcessEnv, name: string, address: string, srv: Server) {
  return uaOk(
    [
      'account',
      'add',
      name,
      '--address',
      address,
      '--smtp',
      `127.0.0.1:${srv.submission}`,
      '--pop3',
      `127.0.0.1:${srv.pop3}`,
      '--tls',
      'none',
      '--password-stdin',
    ],
    env,
    PASSWORD,
  );
}

/** The same account as `addAccount`, written in-process (for users whose set-up is not under test). */
export async function addAccountDirect(env: NodeJS.ProcessEnv, name: string, address: string, srv: Server) {
  const book = new AccountBook(configDir(env));
  await book.add(
    {
      name,
      address,
      smtp: parseEndpoint(`127.0.0.1:${srv.submission}`, 'smtp', 'none'),
      pop3: parseEndpoint(`127.0.0.1:${srv.pop3}`, 'pop3', 'none'),
      tls: 'none',
      tlsVerify: true,
      user: address,
    },
    PASSWORD,
  );
}

/** Delivers messages to local users through the server's port 25, as another MTA would. */
export async function deliverMany(srv: Server, to: string, messages: Array<string | Buffer>): Promise<void> {
  const c = await SmtpClient.connect({
    host: '127.0.0.1',
    port: srv.smtp,
    tls: 'none',
    localName: 'mta.other.test',
  });
  try {
    for (const m of messages) {
      const r = await c.send({ from: 'sender@other.test', recipients: [to] }, m);
      if (!r.ok) throw new Error(`delivery refused: ${JSON.stringify(r.data ?? r.recipients)}`);
    }
  } finally {
    await c.quit().catch(() => {});
  }
}

/**
 * Runs the real `posthorn` program (from source, through tsx) as a child process: admin commands
 * and `serve` on ephemeral loopback ports, whose bound ports are read from its JSON log lines.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const main = 'src/cli/main.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
      cwd: root,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(opts.input ?? '');
  });
}

/** Runs an admin command and fails loudly when it does. */
export async function cliOk(args: string[], opts?: { input?: string }): Promise<string> {
  const r = await cli(args, opts);
  if (r.code !== 0) throw new Error(`posthorn ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export interface ServerProcess {
  proc: ChildProcess;
  ports: Record<string, number>;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  stop(): Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const OFF = ['--submission', 'off', '--smtps', 'off', '--pop3s', 'off', '--web', 'off'];

/**
 * Starts `posthorn serve --data DIR` with SMTP and POP3 on 127.0.0.1:0 (others off unless `args`
 * say otherwise) and waits until every listener named in `wait` logged its port.
 */
export async function startServe(
  dataDir: string,
  args: string[] = [],
  wait: string[] = ['smtp', 'pop3'],
): Promise<ServerProcess> {
  const all = [
    'serve',
    '--data',
    dataDir,
    '--hostname',
    'mx.test',
    '--smtp',
    '127.0.0.1:0',
    '--pop3',
    '127.0.0.1:0',
    ...OFF,
    ...args,
  ];
  const proc = spawn(process.execPath, ['--import', 'tsx', main, ...all], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const ports: Record<string, number> = {};
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time\n${stderr}`)), 20000);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}\n${stderr}`));
    });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line);
      } catch {
        return;
      }
      logs.push(obj);
      if (obj.msg === 'listening') ports[obj.listener as string] = obj.port as number;
      if (wait.every((w) => ports[w])) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    proc,
    ports,
    logs,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode === null) proc.kill(signal);
      await exited;
    },
  };
}

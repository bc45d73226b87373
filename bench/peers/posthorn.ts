/**
 * Posthorn itself, driven through its public CLI exactly as a user runs it: `domain add`,
 * `user add`, then `serve` with a fresh data dir (SQLite store, durable: 250 only after commit),
 * SMTP and POP3 on ephemeral 127.0.0.1 ports, everything else off. The ports are read back from
 * the JSON log lines `{"msg":"listening","listener":"smtp","port":N}` of its log file.
 *
 * A small TOML config raises the per-client-IP connection limit: every benchmark connection
 * comes from 127.0.0.1 (100 at once in the SMTP runs, 10,000 in the idle-connection test).
 *
 * Failure semantics: PeerUnavailable when the CLI is missing or a command fails (its output is
 * in the message), so a benchmark still reports its peers. `stop()` sends SIGTERM (graceful
 * shutdown), SIGKILL after 15 s, and removes the data dir.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchServer, benchTempDir, PeerUnavailable, sleep, spawnDaemon } from './proc.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'src', 'cli', 'main.ts');
const BUILT_CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
/** The compiled CLI (dist/, as bin/posthorn runs in production; scripts/run-bench.mjs compiles it
 * first) unless `--source`: the TypeScript sources through tsx, whose loader adds about 50 MB of
 * heap, and with it garbage-collection time (twice the CPU per 1 MiB POP3 message, measured). */
const BUILT = !process.argv.includes('--source');

/** The node arguments that run the Posthorn CLI. */
export function cliArgs(): string[] {
  return BUILT ? [BUILT_CLI] : ['--import', 'tsx', CLI];
}

export interface PosthornServer extends BenchServer {
  /** Bound ports by listener name ("smtp", "pop3"). */
  readonly ports: Readonly<Record<string, number>>;
  readonly dataDir: string;
}

export interface PosthornOptions {
  /** Users to create (all in bench.test), with their password. */
  users: { address: string; password: string }[];
  /** Listeners to open on 127.0.0.1:0. */
  listeners: ('smtp' | 'pop3')[];
  /** Extra lines for the TOML config file. */
  config?: string;
}

export function posthornAvailable(): boolean {
  return existsSync(BUILT ? BUILT_CLI : CLI);
}

function cli(args: string[]): void {
  const r = spawnSync(process.execPath, [...cliArgs(), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0) {
    throw new PeerUnavailable(
      `posthorn ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`,
    );
  }
}

/** Creates a data dir with the bench.test domain and the users, then starts `posthorn serve`. */
export async function startPosthorn(opts: PosthornOptions): Promise<PosthornServer> {
  if (!posthornAvailable()) {
    throw new PeerUnavailable(
      BUILT
        ? `${BUILT_CLI} does not exist: run npm run build first`
        : `Posthorn's CLI (${CLI}) does not exist yet`,
    );
  }
  const dir = benchTempDir('posthorn');
  const data = join(dir, 'data');
  cli(['domain', 'add', 'bench.test', '--data', data]);
  for (const u of opts.users) cli(['user', 'add', u.address, '--password', u.password, '--data', data]);
  const configFile = join(dir, 'posthorn.toml');
  writeFileSync(
    configFile,
    `# written by bench/peers/posthorn.ts\n[smtp]\nmax_connections = 20000\nmax_connections_per_ip = 20000\n${opts.config ?? ''}`,
  );
  const listen = (name: string) => (opts.listeners.includes(name as 'smtp') ? '127.0.0.1:0' : 'off');
  const ports: Record<string, number> = {};
  // The log goes to a file, as in production (a pipe read by the benchmark would put its
  // parsing on the benchmark's CPU); the listening lines are read back from it.
  const logFile = join(dir, 'posthorn.log');
  const daemon = spawnDaemon(
    process.execPath,
    [
      ...cliArgs(),
      'serve',
      '--config',
      configFile,
      '--data',
      data,
      '--hostname',
      'bench.test',
      '--smtp',
      listen('smtp'),
      '--submission',
      'off',
      '--smtps',
      'off',
      '--pop3',
      listen('pop3'),
      '--pop3s',
      'off',
      '--web',
      'off',
    ],
    { cwd: ROOT, killAfterMs: 15_000, logFile },
  );
  const readPorts = async () => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      for (const line of readFileSync(logFile, 'utf8').split('\n')) {
        if (!line.includes('"listening"')) continue;
        try {
          const rec = JSON.parse(line) as { msg?: string; listener?: string; port?: number };
          if (rec.msg === 'listening' && rec.listener && rec.port) ports[rec.listener] = rec.port;
        } catch {
          // A line still being written.
        }
      }
      if (opts.listeners.every((l) => ports[l])) return;
      await sleep(100);
    }
    throw new Error('no "listening" log lines within 30 s');
  };
  try {
    await daemon.alive(readPorts());
  } catch (err) {
    await daemon.stop();
    throw new PeerUnavailable(`posthorn serve did not start: ${(err as Error).message}\n${daemon.output()}`);
  }
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;
  return {
    name: 'Posthorn',
    version: `${version} (Node ${process.version}, ${BUILT ? 'compiled dist/' : 'sources through tsx'})`,
    pid: daemon.child.pid!,
    ports,
    dataDir: data,
    stop: daemon.stop,
  };
}

/**
 * Process plumbing shared by the benchmarks: ephemeral ports, waiting for a listener, temp dirs,
 * child processes that are always stopped, and /proc readings (resident memory of a process tree,
 * CPU seconds of a process tree including reaped children).
 *
 * Failure semantics: everything started through here is registered for cleanup; `cleanupAll()`
 * runs on normal exit, on SIGINT/SIGTERM and on an uncaught error, so no peer daemon or temp dir
 * outlives a benchmark run. Linux only (/proc).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

/** A peer or Posthorn server running for a benchmark. */
export interface BenchServer {
  /** Name as printed in the tables, e.g. "Postfix (Maildir)". */
  readonly name: string;
  /** Version, for the report ("3.7.11"). */
  readonly version?: string;
  /** Root process of the server (the one whose process tree is measured). */
  readonly pid: number;
  /** Stops the server and removes its files; idempotent. */
  stop(): Promise<void>;
}

/** A peer that cannot run on this machine: the benchmark prints the reason and goes on. */
export class PeerUnavailable extends Error {
  override name = 'PeerUnavailable';
}

// Postfix's and Dovecot's programs live in /usr/sbin, which a non-root PATH may lack.
for (const dir of ['/usr/sbin', '/sbin']) {
  if (!(process.env.PATH ?? '').split(':').includes(dir))
    process.env.PATH = `${process.env.PATH ?? ''}:${dir}`;
}

type Cleanup = () => void | Promise<void>;
const cleanups: Cleanup[] = [];
let cleaning: Promise<void> | undefined;

/** Registers `fn` to run at the end of the run (LIFO); returns a function that unregisters it. */
export function onCleanup(fn: Cleanup): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** Runs every registered cleanup once, newest first. */
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const fn = cleanups.pop()!;
      try {
        await fn();
      } catch (err) {
        console.error(`cleanup failed: ${(err as Error).message}`);
      }
    }
  })();
  return cleaning;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping servers`);
    void cleanupAll().then(() => process.exit(130));
  });
}

/** A temp dir under os.tmpdir(), removed at cleanup. */
export function benchTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `posthorn-bench-${prefix}-`));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A port that was free a moment ago on 127.0.0.1 (bind port 0, read it back, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once a TCP connect to 127.0.0.1:port succeeds and the server says something. */
export async function waitForBanner(port: number, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  while (Date.now() < deadline) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        const t = setTimeout(() => {
          s.destroy();
          reject(new Error('no banner'));
        }, 2_000);
        s.once('data', (d) => {
          clearTimeout(t);
          s.destroy();
          resolve(d.toString('latin1').trim());
        });
        s.once('error', (e) => {
          clearTimeout(t);
          reject(e);
        });
      });
    } catch (err) {
      lastErr = (err as Error).message;
      await sleep(100);
    }
  }
  throw new Error(`nothing answered on 127.0.0.1:${port} within ${timeoutMs} ms (${lastErr})`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** True when `cmd` is found on PATH (or is an executable path). */
export function haveCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Runs a command to completion; throws with its stderr on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: opts.env ?? process.env, input: opts.input });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim().slice(0, 2000)}`,
    );
  }
  return r.stdout;
}

/** Spawns a long-running child, keeps the last lines of its output for error messages, and
 * registers it for cleanup (SIGTERM, then SIGKILL after `killAfterMs`). */
export function spawnDaemon(
  cmd: string,
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    onLine?: (line: string) => void;
    killAfterMs?: number;
    /** Send stdout and stderr to this file instead of a pipe read here (a busy server's log then
     * costs this process nothing); `onLine` is not called in that case. */
    logFile?: string;
  } = {},
): {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
  /** Resolves when the child has exited. */
  exited: Promise<void>;
  /** Rejects if the child exits before `p` settles (a daemon that died while we waited on it). */
  alive: <T>(p: Promise<T>) => Promise<T>;
} {
  const logFd = opts.logFile ? openSync(opts.logFile, 'a') : undefined;
  const child = spawn(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: logFd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', logFd, logFd],
  });
  if (logFd !== undefined) closeSync(logFd);
  const tail: string[] = [];
  const feed = (stream: NodeJS.ReadableStream) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      buf += d;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        tail.push(line);
        if (tail.length > 40) tail.shift();
        opts.onLine?.(line);
        nl = buf.indexOf('\n');
      }
    });
  };
  if (child.stdout) feed(child.stdout);
  if (child.stderr) feed(child.stderr);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // Descendants that outlive the child (a daemon forked by a wrapper script) would be
      // reparented away from us: note them now, and kill any still there afterwards.
      const tree = processTree(child.pid!).slice(1);
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs ?? 10_000);
      await exited;
      clearTimeout(t);
      await killSurvivors(tree, opts.killAfterMs ?? 10_000);
    }
    unregister();
  };
  const unregister = onCleanup(stop);
  const alive = <T>(p: Promise<T>) =>
    Promise.race([
      p,
      exited.then(() => {
        throw new Error(`${cmd} exited (${child.exitCode ?? child.signalCode})`);
      }),
    ]);
  const output = () => (opts.logFile ? lastLines(opts.logFile, 40) : tail.join('\n'));
  return { child, output, stop, exited, alive };
}

function lastLines(file: string, n: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/** SIGTERM, then after `graceMs` SIGKILL, to those of `pids` still running. */
async function killSurvivors(pids: number[], graceMs: number): Promise<void> {
  const running = () => pids.filter((pid) => readStat(pid) !== undefined && !isZombie(pid));
  if (running().length === 0) return;
  for (const pid of running()) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (running().length > 0 && Date.now() < deadline) await sleep(100);
  for (const pid of running()) signal(pid, 'SIGKILL');
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

function isZombie(pid: number): boolean {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** The pid and every descendant of it, read from /proc. */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st) parent.set(Number(name), st.ppid);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parent) if (ppid === tree[i]) tree.push(pid);
  }
  return tree;
}

interface Stat {
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces; fields after it follow the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
  return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds used so far by a process tree: each live process's own time plus what its
 * reaped children used (cutime/cstime), so short-lived workers (Dovecot's pop3, Postfix's smtpd)
 * still count once their parent has waited for them. */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) ticks += readStat(pid)?.ticks ?? 0;
  return ticks / CLOCK_TICKS;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Current memory of a process tree, in bytes: `rss` sums each process's resident set (shared
 * pages counted in every process), `pss` shares them out (the fair figure for multi-process
 * servers such as Postfix and Dovecot). */
export function treeMemory(root: number): { rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  for (const pid of processTree(root)) {
    rss += statusKb(pid, 'VmRSS');
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'));
      if (m) pss += Number(m[1]);
    } catch {
      // The process ended between listing and reading.
    }
  }
  return { rss: rss * 1024, pss: pss * 1024 };
}

/** Peak resident memory of one process (VmHWM), in bytes. */
export function peakRssBytes(pid: number): number {
  return statusKb(pid, 'VmHWM') * 1024;
}

/** Samples the memory of a process tree every `everyMs` and keeps the maxima; the tree is
 * re-read each time so per-connection worker processes are included. */
export class MemorySampler {
  private maxRss = 0;
  private maxPss = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly root: number,
    private readonly everyMs = 250,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
    return this;
  }

  sample(): { rss: number; pss: number } {
    const now = treeMemory(this.root);
    this.maxRss = Math.max(this.maxRss, now.rss);
    this.maxPss = Math.max(this.maxPss, now.pss);
    return now;
  }

  /** Stops sampling; returns the peaks seen, in bytes. */
  stop(): { rss: number; pss: number } {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return { rss: this.maxRss, pss: this.maxPss };
  }
}

/** Runs install-peers.sh when a peer binary is missing (root only); returns what is still missing. */
export function ensurePeers(binaries: string[]): string[] {
  let missing = binaries.filter((b) => !haveCommand(b));
  if (missing.length > 0 && process.getuid?.() === 0) {
    console.log(`installing missing peers (${missing.join(', ')}) with bench/peers/install-peers.sh …`);
    const r = spawnSync('bash', ['bench/peers/install-peers.sh'], { stdio: 'inherit' });
    if (r.status !== 0) console.log('install-peers.sh failed; the missing peers are skipped');
    missing = binaries.filter((b) => !haveCommand(b));
  }
  if (missing.length > 0) {
    console.log(`missing: ${missing.join(', ')} — install with: sudo bash bench/peers/install-peers.sh`);
  }
  return missing;
}

/** One line on how busy the machine is: other work on it skews every figure (both sides alike
 * when runs alternate, but the absolute numbers drop). */
export function machineLoad(): string {
  const [one] = loadavg();
  const n = cpus().length;
  const busy = one! > n ? ` — busy: the figures are lower and noisier than on an idle machine` : '';
  return `load average ${one!.toFixed(2)} on ${n} CPUs${busy}`;
}

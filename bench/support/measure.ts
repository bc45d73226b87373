/**
 * Shared benchmark helpers: peak memory, event-loop blocking, child-process runs (so each peak
 * RSS is measured in a fresh process) and a plain-text result table with ratios.
 */
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Peak resident set size of this process so far, in MiB (getrusage ru_maxrss). */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Current resident set size in MiB. */
export function rssMiB(): number {
  return process.memoryUsage.rss() / (1024 * 1024);
}

/**
 * Samples RSS every few milliseconds (ru_maxrss never goes down, so a delta against a baseline
 * taken after start-up needs its own sampler).
 */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  peak = 0;
  start(intervalMs = 2): void {
    this.peak = rssMiB();
    this.timer = setInterval(() => {
      const r = rssMiB();
      if (r > this.peak) this.peak = r;
    }, intervalMs);
  }
  stop(): number {
    clearInterval(this.timer);
    const r = rssMiB();
    if (r > this.peak) this.peak = r;
    return this.peak;
  }
}

/**
 * Measures the longest time the event loop was kept busy: a 1 ms interval timer records the
 * largest gap between its ticks (minus the interval), cross-checked by monitorEventLoopDelay.
 * It also records how much CPU the process used during that longest gap: on a loaded machine a
 * gap can be mostly time the OS did not run us, which no code change can remove.
 */
export class LoopBlockProbe {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private lastCpu = process.cpuUsage();
  private maxGap = 0;
  private maxGapCpu = 0;
  private readonly histogram = monitorEventLoopDelay({ resolution: 1 });

  start(): void {
    this.histogram.enable();
    this.last = performance.now();
    this.lastCpu = process.cpuUsage();
    this.timer = setInterval(() => this.tick(), 1);
  }

  private tick(): void {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const gap = now - this.last - 1;
    if (gap > this.maxGap) {
      this.maxGap = gap;
      this.maxGapCpu = (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000;
    }
    this.last = now;
    this.lastCpu = cpu;
  }

  /** Longest block in milliseconds (wall clock), and the process CPU time spent in it. */
  stop(): { wallMs: number; cpuMs: number } {
    this.tick();
    clearInterval(this.timer);
    this.histogram.disable();
    return { wallMs: Math.max(this.maxGap, this.histogram.max / 1e6 - 1), cpuMs: this.maxGapCpu };
  }
}

/**
 * Runs `node --import tsx --expose-gc script ...args` and returns the JSON object printed on its
 * last stdout line, or `{ error }` on failure or timeout.
 */
export function runChild<T extends object>(
  script: string,
  args: string[],
  timeoutMs: number,
): Promise<T | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--expose-gc', script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) return resolve({ error: `killed after ${Math.round(timeoutMs / 1000)} s` });
      const last = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) {
          const lines = err.trim().split('\n');
          throw new Error(lines.find((l) => /^\w*Error\b/.test(l)) ?? lines.pop() ?? `exit ${code}`);
        }
        resolve(JSON.parse(last) as T);
      } catch (e) {
        resolve({ error: (e as Error).message.slice(0, 120) });
      }
    });
  });
}

/** A left-aligned first column and right-aligned others. */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const width = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ');
  return [line(head), width.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** `a / b` as "2.31×". */
export function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a';
}

/** Number with fixed decimals. */
export function fmt(n: number, digits = 0): string {
  return n.toFixed(digits);
}

/**
 * The POP3 load: one Python poplib client (the same script for every server) that logs in with
 * USER/PASS, runs STAT, RETRs every message in order, and QUITs without DELE so the mailbox is
 * unchanged for the next run. Only the RETR loop is timed; octets are counted as poplib reports
 * them (the message lines with their CRLF, after un-stuffing).
 *
 * The client stops just before and just after the RETR loop until told to go on, so the caller
 * can read the server's CPU counters around the loop alone: login (password hashing differs
 * between servers: scrypt in Posthorn, a plain passwd-file here for Dovecot) and session
 * start-up stay out of the per-message figures.
 *
 * Failure semantics: any -ERR, a crash or a timeout rejects with the client's stderr.
 */
import { spawn, spawnSync } from 'node:child_process';
import { onCleanup } from './proc.js';

const SCRIPT = `
import json, poplib, sys, time
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def pause(tag):
    sys.stdout.write(tag + "\\n")
    sys.stdout.flush()
    sys.stdin.readline()
p = poplib.POP3(host, port, timeout=120)
p.user(user)
p.pass_(password)
count, size = p.stat()
octets = 0
pause("BEFORE")
t0 = time.perf_counter()
c0 = time.process_time()
for i in range(1, count + 1):
    resp, lines, n = p.retr(i)
    octets += n
t1 = time.perf_counter()
c1 = time.process_time()
pause("AFTER")
p.quit()
print(json.dumps({"count": count, "statSize": size, "octets": octets, "seconds": t1 - t0, "clientCpu": c1 - c0}))
`;

export interface PopRun {
  /** Messages retrieved. */
  count: number;
  /** Mailbox size STAT reported. */
  statSize: number;
  /** Octets received in RETR responses. */
  octets: number;
  /** Seconds spent in the RETR loop. */
  seconds: number;
  /** CPU seconds the client itself spent in the RETR loop (when close to `seconds`, the client
   * is the bottleneck, not the server). */
  clientCpu: number;
  /** Growth of `probe()` over the RETR loop (the server's CPU seconds, when probe reads them). */
  probed: number;
}

/** Retrieves the whole mailbox of `user` once over POP3 on 127.0.0.1:port; `probe` is read
 * right before and right after the RETR loop. */
export function poplibRetrieveAll(
  port: number,
  user: string,
  password: string,
  probe: () => number = () => 0,
  timeoutMs = 300_000,
): Promise<PopRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', SCRIPT, '127.0.0.1', String(port), user, password], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let before = 0;
    let probed = 0;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      // The markers come one at a time: the client waits for our newline after each.
      if (out.endsWith('BEFORE\n')) {
        out = '';
        before = probe();
        child.stdin.write('\n');
      } else if (out.endsWith('AFTER\n')) {
        out = '';
        probed = probe() - before;
        child.stdin.write('\n');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (err.length < 4000) err += d;
    });
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const unregister = onCleanup(() => {
      child.kill('SIGKILL');
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      unregister();
      if (code !== 0) return reject(new Error(`poplib client: ${signal ?? `exit ${code}`}: ${err.trim()}`));
      resolve({ ...(JSON.parse(out) as Omit<PopRun, 'probed'>), probed });
    });
  });
}

/** The message count STAT reports for `user` (used to check that what a server accepted over
 * SMTP really is in the mailbox). */
export function poplibStat(port: number, user: string, password: string): number {
  const script = `import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=120)
p.user(sys.argv[2])
p.pass_(sys.argv[3])
print(p.stat()[0])
p.quit()`;
  const r = spawnSync('python3', ['-c', script, String(port), user, password], {
    encoding: 'utf8',
    timeout: 130_000,
  });
  if (r.status !== 0) throw new Error(`poplib STAT failed: ${(r.stderr || r.stdout).trim()}`);
  return Number(r.stdout.trim());
}

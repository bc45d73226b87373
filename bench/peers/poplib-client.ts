/**
 * The POP3 load: one Python poplib client (the same script for every server) that logs in with
 * USER/PASS, runs STAT, RETRs every message in order, and QUITs without DELE so the mailbox is
 * unchanged for the next run. Only the RETR loop is timed; octets are counted as poplib reports
 * them (the message lines with their CRLF, after un-stuffing).
 *
 * Failure semantics: any -ERR, a count mismatch or a timeout rejects with the client's stderr.
 */
import { spawn } from 'node:child_process';

const SCRIPT = `
import json, poplib, sys, time
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
p = poplib.POP3(host, port, timeout=120)
p.user(user)
p.pass_(password)
count, size = p.stat()
octets = 0
t0 = time.perf_counter()
c0 = time.process_time()
for i in range(1, count + 1):
    resp, lines, n = p.retr(i)
    octets += n
t1 = time.perf_counter()
c1 = time.process_time()
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
}

/** Retrieves the whole mailbox of `user` once over POP3 on 127.0.0.1:port. */
export function poplibRetrieveAll(
  port: number,
  user: string,
  password: string,
  timeoutMs = 300_000,
): Promise<PopRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', SCRIPT, '127.0.0.1', String(port), user, password], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (err.length < 4000) err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`poplib client: ${signal ?? `exit ${code}`}: ${err.trim()}`));
      resolve(JSON.parse(out) as PopRun);
    });
  });
}

/**
 * `npm run bench -- smtp [--quick]`: SMTP ingest of 4 KiB messages, Posthorn against its peers in
 * the same run, all driven by the same load generator (Postfix's smtp-source) on 127.0.0.1:
 *  - Posthorn: SQLite store, durable (250 only after the commit);
 *  - Haraka (discard): accepts and throws the message away; Haraka (fsync): writes each message
 *    to its own file and fsyncs it before 250;
 *  - Postfix: accepted into its queue (fsync'd before 250) and delivered to a Maildir meanwhile;
 *  - smtp-sink: stores nothing (the ceiling of the load generator on this machine).
 * For each: messages/s at 1, 20 and 100 concurrent connections, one message per connection and
 * with connection reuse (smtp-source -d), and the peak memory of the server's process tree.
 * Then Posthorn holds 10,000 idle connections (greeted, silent) and its RSS is read.
 *
 * Every server listens on an ephemeral port and is stopped at the end; temp dirs are removed.
 * A peer that cannot run here is reported as such and skipped.
 */
import { spawnSync } from 'node:child_process';
import { startHaraka } from './peers/haraka.js';
import { holdIdleConnections } from './peers/idle-conns.js';
import { startPostfix, startSmtpSink } from './peers/postfix.js';
import { startPosthorn } from './peers/posthorn.js';
import {
  type BenchServer,
  cleanupAll,
  ensurePeers,
  MemorySampler,
  machineLoad,
  PeerUnavailable,
  peakRssBytes,
  sleep,
  treeMemory,
} from './peers/proc.js';
import { mb, rate, ratio, table } from './peers/report.js';
import { smtpSource } from './peers/smtp-source.js';

const QUICK = process.argv.includes('--quick');
const SIZE = 4096;
const IDLE_CONNECTIONS = 10_000;
/** File descriptors needed: the idle sockets here and in the server, plus slack. */
const NOFILE_WANTED = 20_000;

interface Scenario {
  key: string;
  sessions: number;
  reuse: boolean;
  messages: number;
}

const SCENARIOS: Scenario[] = [];
for (const sessions of [1, 20, 100]) {
  for (const reuse of [false, true]) {
    // One connection is slow for every durable server: fewer messages keep the run short.
    const messages = sessions === 1 ? (QUICK ? 300 : 2_000) : QUICK ? 2_000 : 10_000;
    SCENARIOS.push({
      key: `${sessions} conn, ${reuse ? 'reuse (-d)' : '1 msg/conn'}`,
      sessions,
      reuse,
      messages,
    });
  }
}

type SmtpServer = BenchServer & { port: number };

interface SystemResult {
  name: string;
  rates: Map<string, number>;
  peak?: { rss: number; pss: number; hwm: number };
  note?: string;
  unavailable?: string;
}

function nofileLimit(): number {
  const r = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  return Number(r.stdout.trim()) || 1024;
}

/** Node cannot raise RLIMIT_NOFILE itself: re-run this benchmark under `ulimit -n` once. */
function ensureNofile(): void {
  if (nofileLimit() >= NOFILE_WANTED || process.env.POSTHORN_BENCH_NOFILE) return;
  if (spawnSync('bash', ['-c', `ulimit -n ${NOFILE_WANTED}`]).status !== 0) return;
  console.log(`re-running under ulimit -n ${NOFILE_WANTED} (open files for the idle-connection test)`);
  const r = spawnSync(
    'bash',
    [
      '-c',
      `ulimit -n ${NOFILE_WANTED} && exec "$@"`,
      'bash',
      process.execPath,
      ...process.execArgv,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, POSTHORN_BENCH_NOFILE: '1' } },
  );
  process.exit(r.status ?? 1);
}

async function measure(
  name: string,
  start: () => Promise<SmtpServer>,
  afterRun?: (
    server: SmtpServer,
    total: number,
    run?: { messages: number; seconds: number },
  ) => Promise<string | undefined>,
): Promise<SystemResult> {
  const result: SystemResult = { name, rates: new Map() };
  let server: SmtpServer | undefined;
  try {
    server = await start();
    result.name = server.name;
    // Warm-up: JIT, database pages, process pools.
    await smtpSource({ port: server.port, sessions: 10, messages: 200, size: SIZE, reuse: true });
    let total = 200;
    if (afterRun) await afterRun(server, total);
    const mem = new MemorySampler(server.pid).start();
    const notes: string[] = [];
    for (const s of SCENARIOS) {
      const r = await smtpSource({
        port: server.port,
        sessions: s.sessions,
        messages: s.messages,
        size: SIZE,
        reuse: s.reuse,
      });
      total += s.messages;
      result.rates.set(s.key, r.perSecond);
      process.stdout.write(
        `  ${server.name.padEnd(18)} ${s.key.padEnd(22)} ${rate(r.perSecond).padStart(7)} msgs/s\n`,
      );
      if (afterRun) {
        const note = await afterRun(server, total, { messages: s.messages, seconds: r.seconds });
        if (note) notes.push(`${s.key}: ${note}`);
      }
    }
    const peak = mem.stop();
    result.peak = { ...peak, hwm: peakRssBytes(server.pid) };
    if (notes.length) result.note = notes.join('; ');
  } catch (err) {
    if (err instanceof PeerUnavailable) {
      result.unavailable = err.message.split('\n')[0];
      console.log(`  ${name}: NOT MEASURED — ${err.message}`);
    } else {
      result.unavailable = (err as Error).message.split('\n')[0];
      console.log(`  ${name}: FAILED — ${(err as Error).message}`);
    }
  } finally {
    await server?.stop();
  }
  return result;
}

/** Waits for Postfix to deliver everything accepted so far (so runs do not overlap), and says
 * how fast the messages reached the Maildir counting from the first connection. */
async function postfixDrain(
  server: SmtpServer,
  total: number,
  run?: { messages: number; seconds: number },
): Promise<string | undefined> {
  const pf = server as SmtpServer & { delivered(): number };
  const t0 = Date.now();
  while (pf.delivered() < total && Date.now() - t0 < 120_000) await sleep(50);
  const waited = (Date.now() - t0) / 1000;
  if (pf.delivered() < total) return `only ${pf.delivered()}/${total} delivered after 120 s`;
  if (!run) return undefined;
  return `${rate(run.messages / (run.seconds + waited))}/s into the Maildir (+${waited.toFixed(1)} s after the last 250)`;
}

/** Holds idle connections against one server and reads its memory; one line of results. */
async function idleTest(name: string, start: () => Promise<SmtpServer>, count: number): Promise<string> {
  let server: SmtpServer | undefined;
  try {
    server = await start();
    await sleep(500);
    const before = treeMemory(server.pid).rss;
    const t0 = Date.now();
    const idle = await holdIdleConnections(server.port, count);
    const opened = (Date.now() - t0) / 1000;
    // Let the server settle (timers, GC), then check it still serves mail while holding them.
    await sleep(2_000);
    let stillServes = 'yes';
    try {
      await smtpSource({
        port: server.port,
        sessions: 1,
        messages: 10,
        size: SIZE,
        reuse: true,
        timeoutMs: 30_000,
      });
    } catch (err) {
      stillServes = `no (${(err as Error).message.slice(0, 200)})`;
    }
    const held = treeMemory(server.pid).rss;
    const perConn = (held - before) / Math.max(1, idle.greeted()) / 1024;
    idle.close();
    return (
      `${name}: ${idle.greeted()} idle connections held (${idle.failed()} failed; opened in ${opened.toFixed(1)} s): ` +
      `RSS ${mb(held)} MB (${mb(before)} MB before, ${perConn.toFixed(1)} KiB per connection); ` +
      `still accepts mail: ${stillServes}`
    );
  } catch (err) {
    return `${name} idle connections: NOT MEASURED — ${(err as Error).message.split('\n')[0]}`;
  } finally {
    await server?.stop();
  }
}

async function idleTests(): Promise<string[]> {
  const lines: string[] = [];
  const limit = nofileLimit();
  const count = Math.min(IDLE_CONNECTIONS, limit - 500);
  if (count < IDLE_CONNECTIONS) {
    lines.push(`note: ulimit -n is ${limit}; holding ${count} connections instead of ${IDLE_CONNECTIONS}`);
  }
  lines.push(await idleTest('Posthorn', startPosthornSmtp, count));
  lines.push(await idleTest('Haraka', () => startHaraka({ fsync: false }), count));
  return lines;
}

async function startPosthornSmtp(): Promise<SmtpServer> {
  const s = await startPosthorn({
    users: [{ address: 'u@bench.test', password: 'secret' }],
    listeners: ['smtp'],
  });
  return Object.assign(s, { port: s.ports.smtp! });
}

async function main(): Promise<void> {
  ensureNofile();
  console.log(
    `SMTP ingest: ${SIZE}-byte payload messages, smtp-source${QUICK ? ' (--quick)' : ''}; scenarios: ` +
      SCENARIOS.map((s) => `${s.key} × ${s.messages}`).join(', '),
  );
  const missing = ensurePeers(['smtp-source', 'smtp-sink', 'postfix']);
  if (missing.includes('smtp-source')) {
    console.log('smtp-source (the load generator, Debian package postfix) is missing: nothing to measure');
    process.exitCode = 1;
    return;
  }
  const results: SystemResult[] = [];
  results.push(await measure('Posthorn', startPosthornSmtp));
  results.push(await measure('Haraka (discard)', () => startHaraka({ fsync: false })));
  results.push(await measure('Haraka (fsync)', () => startHaraka({ fsync: true })));
  results.push(await measure('Postfix', () => startPostfix(), postfixDrain));
  results.push(await measure('smtp-sink', () => startSmtpSink()));
  const idle = await idleTests();

  const ok = results.filter((r) => !r.unavailable);
  console.log('\nmessages/second (4 KiB, smtp-source; higher is better)');
  console.log(
    table(
      ['scenario', ...ok.map((r) => r.name)],
      SCENARIOS.map((s) => [`${s.key} (${s.messages})`, ...ok.map((r) => rate(r.rates.get(s.key) ?? 0))]),
    ),
  );
  const posthorn = results.find((r) => r.name === 'Posthorn' && !r.unavailable);
  const peers = ok.filter((r) => r !== posthorn);
  if (posthorn) {
    console.log('\nPosthorn ÷ peer (same run)');
    console.log(
      table(
        ['scenario', ...peers.map((r) => `÷ ${r.name}`)],
        SCENARIOS.map((s) => [
          s.key,
          ...peers.map((p) => ratio(posthorn.rates.get(s.key), p.rates.get(s.key))),
        ]),
      ),
    );
  }
  console.log('\npeak memory of the server process tree during the runs');
  console.log(
    table(
      ['system', 'RSS sum MB', 'PSS sum MB', 'root VmHWM MB'],
      ok.map((r) => [r.name, mb(r.peak!.rss), mb(r.peak!.pss), mb(r.peak!.hwm)]),
    ),
  );
  for (const r of ok) if (r.note) console.log(`\n${r.name}: ${r.note}`);
  for (const r of results) if (r.unavailable) console.log(`${r.name}: not measured — ${r.unavailable}`);
  console.log('');
  for (const l of idle) console.log(l);

  if (posthorn) {
    const get = (name: string, key: string) => results.find((r) => r.name === name)?.rates.get(key);
    const k20 = '20 conn, 1 msg/conn';
    const p20 = posthorn.rates.get(k20);
    const reuseBest = Math.max(
      ...SCENARIOS.filter((s) => s.reuse).map((s) => posthorn.rates.get(s.key) ?? 0),
    );
    console.log('\ngoals (issue 3)');
    console.log(`  20 connections ≥ 4× Postfix:        ${ratio(p20, get('Postfix', k20))}`);
    console.log(`  20 connections ≥ 2× Haraka discard: ${ratio(p20, get('Haraka (discard)', k20))}`);
    console.log(`  ≥ 5,000/s with connection reuse:     ${rate(reuseBest)}/s (best of 1/20/100 connections)`);
  }
}

try {
  console.log(`machine: ${machineLoad()}`);
  await main();
  console.log(`\nmachine: ${machineLoad()}`);
} finally {
  await cleanupAll();
}

/**
 * `npm run bench -- pop3 [--quick]`: POP3 retrieval, Posthorn against Dovecot in the same run.
 *
 * Two mailboxes, the same messages on both servers: 2,000 × 4 KiB and 200 × 1 MiB (500 and 50
 * with --quick). Posthorn gets them over SMTP (so they are stored exactly as in production, with
 * its trace headers prepended); Dovecot gets them as LF-terminated files in a Maildir. One Python
 * poplib client logs in, RETRs every message and QUITs without DELE. Both servers run at once
 * and take turns: after a warm-up pass each, every mailbox is retrieved 5 times per server (once
 * with --quick), alternating, and the median run is reported: messages/s, MB/s (of octets
 * received), the server's CPU seconds over the RETR loop (utime+stime of its whole process tree,
 * including Dovecot's per-session pop3 process, read from /proc; login is left out because the
 * two hash passwords differently) and the client's own CPU.
 *
 * Every server listens on an ephemeral 127.0.0.1 port and is stopped at the end; temp dirs are
 * removed. A peer that cannot run here is reported as such and skipped.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDovecot } from './peers/dovecot.js';
import { makeMessage, toLf } from './peers/messages.js';
import { type PopRun, poplibRetrieveAll } from './peers/poplib-client.js';
import { startPosthorn } from './peers/posthorn.js';
import {
  type BenchServer,
  cleanupAll,
  ensurePeers,
  MemorySampler,
  machineLoad,
  PeerUnavailable,
  treeCpuSeconds,
} from './peers/proc.js';
import { mb, rate, ratio, table } from './peers/report.js';
import { smtpSendAll } from './peers/smtp-send.js';

const QUICK = process.argv.includes('--quick');
const RUNS = QUICK ? 1 : 5;
const PASSWORD = 'secret';

interface Mailbox {
  label: string;
  user: string;
  count: number;
  size: number;
}

const MAILBOXES: Mailbox[] = [
  { label: '4 KiB', user: 'u4k@bench.test', count: QUICK ? 500 : 2_000, size: 4 * 1024 },
  { label: '1 MiB', user: 'u1m@bench.test', count: QUICK ? 50 : 200, size: 1024 * 1024 },
];

interface Measured extends PopRun {
  cpu: number;
}

/** A server ready to be measured: its POP3 port and the root of its process tree. */
interface Contender {
  name: string;
  server: BenchServer;
  port: number;
  runs: Map<string, Measured[]>;
  /** Memory of the server's process tree, sampled from the first warm-up to the last run. */
  mem?: MemorySampler;
  peak?: { rss: number; pss: number };
}

interface Unavailable {
  name: string;
  reason: string;
}

/** One timed pass over a mailbox, with the server's CPU over the RETR loop (its whole process
 * tree: Dovecot serves the session from a pop3 process forked for it). */
async function once(c: Contender, mbox: Mailbox): Promise<Measured> {
  const r = await poplibRetrieveAll(c.port, mbox.user, PASSWORD, () => treeCpuSeconds(c.server.pid));
  if (r.count !== mbox.count) {
    throw new Error(`${c.name} ${mbox.user}: STAT says ${r.count} messages, expected ${mbox.count}`);
  }
  return { ...r, cpu: r.probed };
}

/** The median run by RETR time, with the server CPU per message taken over all runs (the
 * kernel counts CPU time in 10 ms ticks: one run alone is too coarse for it). */
function median(runs: Measured[]): Measured & { cpuPerMsg: number } {
  const m = [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)]!;
  const cpu = runs.reduce((t, r) => t + r.cpu, 0);
  const count = runs.reduce((t, r) => t + r.count, 0);
  return { ...m, cpuPerMsg: cpu / count };
}

function describe(err: unknown): string {
  return `${err instanceof PeerUnavailable ? 'NOT MEASURED' : 'FAILED'} — ${(err as Error).message}`;
}

async function prepareDovecot(): Promise<Contender> {
  const server = await startDovecot(MAILBOXES.map((m) => ({ user: m.user, password: PASSWORD })));
  const t0 = Math.floor(Date.now() / 1000) - 100_000;
  for (const mbox of MAILBOXES) {
    const cur = join(server.maildir(mbox.user), 'cur');
    for (let i = 0; i < mbox.count; i++) {
      const crlf = makeMessage(i, mbox.size, mbox.user);
      const lf = toLf(crlf);
      // S= and W= (size on disk, size with CRLF) spare Dovecot from reading files to size them.
      writeFileSync(join(cur, `${t0 + i}.M${i}P1.bench,S=${lf.length},W=${crlf.length}:2,`), lf);
    }
  }
  server.chownMail();
  console.log(`  started Dovecot ${server.version ?? ''}`);
  return { name: 'Dovecot', server, port: server.port, runs: new Map() };
}

async function preparePosthorn(): Promise<Contender> {
  const server = await startPosthorn({
    users: MAILBOXES.map((m) => ({ address: m.user, password: PASSWORD })),
    listeners: ['smtp', 'pop3'],
  });
  console.log(`  started Posthorn ${server.version ?? ''}`);
  for (const mbox of MAILBOXES) {
    const t = process.hrtime.bigint();
    await smtpSendAll(
      server.ports.smtp!,
      mbox.user,
      mbox.count,
      (i) => makeMessage(i, mbox.size, mbox.user),
      16,
    );
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    console.log(
      `  (filled Posthorn's ${mbox.label} mailbox over SMTP: ${mbox.count} messages in ${s.toFixed(1)} s)`,
    );
  }
  return { name: 'Posthorn', server, port: server.ports.pop3!, runs: new Map() };
}

async function main(): Promise<void> {
  console.log(
    `POP3 retrieval with Python poplib (RETR all, QUIT without DELE)${QUICK ? ' --quick' : ''}: ` +
      MAILBOXES.map((m) => `${m.count} × ${m.label}`).join(', ') +
      `; after a warm-up pass, ${RUNS} run(s) per server, alternating, median reported`,
  );
  ensurePeers(['dovecot']);
  const contenders: Contender[] = [];
  const unavailable: Unavailable[] = [];
  for (const [name, prepare] of [
    ['Posthorn', preparePosthorn],
    ['Dovecot', prepareDovecot],
  ] as const) {
    try {
      contenders.push(await prepare());
    } catch (err) {
      console.log(`  ${name}: ${describe(err)}`);
      unavailable.push({ name, reason: (err as Error).message.split('\n')[0]! });
    }
  }
  for (const c of contenders) c.mem = new MemorySampler(c.server.pid, 100).start();
  // Both servers stay up and take turns, so machine noise hits both alike.
  for (const mbox of MAILBOXES) {
    for (const c of [...contenders]) {
      try {
        await once(c, mbox);
        c.runs.set(mbox.label, []);
      } catch (err) {
        console.log(`  ${c.name}: ${describe(err)}`);
        unavailable.push({ name: c.name, reason: (err as Error).message.split('\n')[0]! });
        contenders.splice(contenders.indexOf(c), 1);
      }
    }
    for (let i = 0; i < RUNS; i++) {
      for (const c of contenders) c.runs.get(mbox.label)!.push(await once(c, mbox));
    }
  }
  for (const c of contenders) {
    c.peak = c.mem?.stop();
    await c.server.stop();
  }

  const rows: string[][] = [];
  for (const mbox of MAILBOXES) {
    for (const c of contenders) {
      const m = median(c.runs.get(mbox.label)!);
      rows.push([
        `${mbox.label} × ${mbox.count}`,
        c.name,
        rate(m.count / m.seconds),
        mb(m.octets / m.seconds),
        m.seconds.toFixed(2),
        m.cpu.toFixed(2),
        (m.cpuPerMsg * 1000).toFixed(3),
        m.clientCpu.toFixed(2),
        String(Math.round(m.octets / m.count)),
      ]);
    }
  }
  console.log('');
  console.log(
    table(
      [
        'mailbox',
        'server',
        'msgs/s',
        'MB/s',
        'RETR s',
        'server CPU s',
        'CPU ms/msg (all runs)',
        'client CPU s',
        'octets/msg',
      ],
      rows,
    ),
  );
  const p = contenders.find((c) => c.name === 'Posthorn');
  const d = contenders.find((c) => c.name === 'Dovecot');
  if (p && d) {
    console.log(
      '\nPosthorn ÷ Dovecot (same run; throughput: higher is better, CPU per message: lower is better)',
    );
    console.log(
      table(
        ['mailbox', 'msgs/s', 'MB/s', 'server CPU per msg'],
        MAILBOXES.map((mbox) => {
          const pm = median(p.runs.get(mbox.label)!);
          const dm = median(d.runs.get(mbox.label)!);
          return [
            mbox.label,
            ratio(pm.count / pm.seconds, dm.count / dm.seconds),
            ratio(pm.octets / pm.seconds, dm.octets / dm.seconds),
            ratio(pm.cpuPerMsg, dm.cpuPerMsg),
          ];
        }),
      ),
    );
  }
  console.log('\npeak memory of the server process tree while serving (MB)');
  console.log(
    table(
      ['server', 'RSS sum', 'PSS sum'],
      contenders.map((c) => [c.name, mb(c.peak?.rss ?? 0), mb(c.peak?.pss ?? 0)]),
    ),
  );
  console.log(
    '\n(client CPU close to RETR seconds means poplib itself is the bottleneck; compare server CPU then)',
  );
  for (const u of unavailable) console.log(`${u.name}: not measured — ${u.reason}`);
}

try {
  console.log(`machine: ${machineLoad()}`);
  await main();
  console.log(`\nmachine: ${machineLoad()}`);
} finally {
  await cleanupAll();
}

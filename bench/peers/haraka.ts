/**
 * Haraka (npm devDependency, pinned to 3.1.7: the last line whose dependencies run on Node 20)
 * configured in a temp dir for the SMTP benchmark.
 *
 * One process (no cluster: `nodes` unset, like Posthorn's single process), listening on an
 * ephemeral 127.0.0.1 port, with one small plugin, bench_accept, that
 *  - answers the rDNS lookup itself (Haraka's core would otherwise call dns.reverse for every
 *    connection: a query leaving the machine, and a cost Posthorn does not pay),
 *  - accepts every recipient,
 *  - queues to nowhere ("discard"), or, in the fsync variant, streams each message to its own
 *    file and fsyncs it before answering 250 (what "durable" costs Haraka).
 *
 * Failure semantics: throws PeerUnavailable when Haraka is not installed or does not start.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  type BenchServer,
  benchTempDir,
  freePort,
  PeerUnavailable,
  processTree,
  spawnDaemon,
  waitForBanner,
} from './proc.js';

const PLUGIN = `// bench_accept: written by bench/peers/haraka.ts for the Posthorn benchmark.
const fs = require('node:fs');
const path = require('node:path');
const fsyncDir = process.env.HARAKA_BENCH_FSYNC_DIR;

exports.hook_lookup_rdns = function (next) {
  next(OK, 'localhost');
};

exports.hook_rcpt = function (next) {
  next(OK);
};

exports.hook_queue = function (next, connection) {
  if (!fsyncDir) return next(OK);
  const txn = connection.transaction;
  const ws = fs.createWriteStream(path.join(fsyncDir, txn.uuid + '.eml'), { autoClose: false });
  let done = false;
  const finish = (err) => {
    if (done) return;
    done = true;
    if (ws.fd === null || ws.fd === undefined) return next(DENYSOFT, 'write failed');
    fs.fsync(ws.fd, (err2) => {
      fs.close(ws.fd, () => next(err || err2 ? DENYSOFT : OK));
    });
  };
  ws.once('error', finish);
  ws.once('finish', () => finish());
  txn.message_stream.pipe(ws, { line_endings: '\\r\\n', dot_stuffing: false, ending_dot: false });
};
`;

function harakaDir(): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    const dir = join(req.resolve('Haraka/package.json'), '..');
    return existsSync(join(dir, 'bin', 'haraka')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Starts Haraka; with `fsync` each message is written to a file and fsync'd before 250. */
export async function startHaraka(opts: { fsync: boolean }): Promise<BenchServer & { port: number }> {
  const pkgDir = harakaDir();
  if (!pkgDir)
    throw new PeerUnavailable('Haraka is not installed (npm devDependency "Haraka"; run npm install)');
  const dir = benchTempDir('haraka');
  const port = await freePort();
  // Haraka's code expects every config file of its own distribution to exist.
  cpSync(join(pkgDir, 'config'), join(dir, 'config'), { recursive: true });
  mkdirSync(join(dir, 'plugins'));
  mkdirSync(join(dir, 'queue'));
  writeFileSync(join(dir, 'plugins', 'bench_accept.js'), PLUGIN);
  writeFileSync(join(dir, 'config', 'plugins'), 'bench_accept\n');
  writeFileSync(join(dir, 'config', 'me'), 'mx.bench.test\n');
  writeFileSync(join(dir, 'config', 'smtp.ini'), `listen=127.0.0.1:${port}\ninactivity_timeout=300\n`);
  writeFileSync(join(dir, 'config', 'log.ini'), '[main]\nlevel=warn\n');
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' };
  if (opts.fsync) env.HARAKA_BENCH_FSYNC_DIR = join(dir, 'queue');
  else delete env.HARAKA_BENCH_FSYNC_DIR;
  const daemon = spawnDaemon(process.execPath, [join(pkgDir, 'bin', 'haraka'), '-c', dir], { env });
  try {
    await daemon.alive(waitForBanner(port, 30_000));
  } catch (err) {
    await daemon.stop();
    throw new PeerUnavailable(`Haraka did not start: ${(err as Error).message}\n${daemon.output()}`);
  }
  // bin/haraka is a launcher that forks haraka.js, the server: measure that one alone.
  const server = processTree(daemon.child.pid!).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('haraka.js');
    } catch {
      return false;
    }
  });
  return {
    name: opts.fsync ? 'Haraka (fsync)' : 'Haraka (discard)',
    version: (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version,
    pid: server ?? daemon.child.pid!,
    port,
    stop: daemon.stop,
  };
}

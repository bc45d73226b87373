/** Running third-party clients (curl, swaks, python3, fetchmail) from interop tests. */
import { spawn } from 'node:child_process';
import { LineClient, play } from '../support/transcript.js';

export function run(
  cmd: string,
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 20000);
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
    p.stdin.end(opts.input ?? '');
  });
}

export async function runOk(
  cmd: string,
  args: string[],
  opts?: { input?: string | Buffer; timeoutMs?: number },
) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} exited ${r.code}\n${r.stderr}\n${r.stdout.toString()}`);
  return r;
}

/** Every message in a POP3 maildrop, un-stuffed, as the exact stored bytes (CRLF line ends). */
export async function popAll(
  port: number,
  user: string,
  pass: string,
  opts: { dele?: boolean } = {},
): Promise<Buffer[]> {
  const c = await LineClient.connect(port);
  try {
    await play(c, `S: +OK*\nC: USER ${user}\nS: +OK*\nC: PASS ${pass}\nS: +OK*\nC: STAT\nS: +OK*`);
    const n = Number(c.log[c.log.length - 1]!.split(' ')[2]);
    const out: Buffer[] = [];
    for (let i = 1; i <= n; i++) {
      c.send(`RETR ${i}`);
      const first = await c.readLine();
      if (!first?.startsWith('+OK')) throw new Error(`RETR ${i}: ${first}`);
      const lines: string[] = [];
      for (;;) {
        const l = await c.readLine();
        if (l === undefined) throw new Error('closed during RETR');
        if (l === '.') break;
        lines.push(l.startsWith('.') ? l.slice(1) : l);
      }
      out.push(Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1'));
      if (opts.dele) {
        c.send(`DELE ${i}`);
        await c.readLine();
      }
    }
    c.send('QUIT');
    await c.readLine();
    return out;
  } finally {
    c.close();
  }
}

/** The stored message minus the Return-Path and Received fields Posthorn prepended. */
export function withoutTrace(stored: Buffer): Buffer {
  const text = stored.toString('latin1');
  const m = /^Return-Path: <[^>]*>\r\nReceived: [^\r]*\r\n(?:\t[^\r]*\r\n)*/.exec(text);
  if (!m) throw new Error(`no Posthorn trace header at the top:\n${text.slice(0, 300)}`);
  return stored.subarray(m[0].length);
}

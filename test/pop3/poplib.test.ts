/** Interop: Python's poplib (a real third-party client) against Pop3Server, plain and STLS. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, test } from 'node:test';
import { generate } from 'selfsigned';
import { KIHYUN, SECOND_MESSAGE, startServer, TEXTBOOK_MESSAGE, waitUnlocked } from './setup.js';

const SCRIPT = `
import base64, json, poplib, ssl, sys
port, use_stls = int(sys.argv[1]), sys.argv[2] == 'stls'
p = poplib.POP3('127.0.0.1', port, timeout=10)
out = {'welcome': p.getwelcome().decode()}
if use_stls:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    p.stls(ctx)
out['capa'] = sorted(p.capa().keys())
p.user('kihyun')
p.pass_('kihyun0')
out['stat'] = list(p.stat())
out['list'] = [l.decode() for l in p.list()[1]]
out['uidl'] = [l.decode() for l in p.uidl()[1]]
msgs = []
for n in range(1, out['stat'][0] + 1):
    resp, lines, octets = p.retr(n)
    msgs.append({'octets': octets, 'b64': base64.b64encode(b''.join(l + b'\\r\\n' for l in lines)).decode()})
out['retr'] = msgs
out['top'] = base64.b64encode(b''.join(l + b'\\r\\n' for l in p.top(1, 0)[1])).decode()
out['dele'] = p.dele(1).decode()
out['quit'] = p.quit().decode()
print(json.dumps(out))
`;

function poplib(port: number, mode: 'plain' | 'stls'): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const py = spawn('python3', ['-c', SCRIPT, String(port), mode]);
    let stdout = '';
    let stderr = '';
    py.stdout.on('data', (d) => (stdout += d));
    py.stderr.on('data', (d) => (stderr += d));
    py.on('error', reject);
    py.on('close', (code) => {
      if (code !== 0) reject(new Error(`python3 exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

let tls: { key: string; cert: string };
before(async () => {
  const pems = await generate([{ name: 'commonName', value: 'uu.ac.kr' }], { keySize: 2048 });
  tls = { key: pems.private, cert: pems.cert };
});

const DOTS = 'Subject: dots\r\n\r\n.leading dot\r\n..two\r\nlast line without CRLF';

for (const mode of ['plain', 'stls'] as const) {
  test(`poplib (${mode}): login, stat, list, uidl, retr, top, dele, quit; bytes compared`, async () => {
    const { port, backend } = await startServer(mode === 'stls' ? { tls, isTrustedClient: () => false } : {});
    backend.deliver(KIHYUN, DOTS);
    const uids = backend.messages(KIHYUN).map((m) => m.uid);
    const out = await poplib(port, mode);
    assert.equal(out.welcome, '+OK Posthorn POP3 server ready');
    assert.ok((out.capa as string[]).includes('USER'));
    assert.ok((out.capa as string[]).includes('PIPELINING'));
    const sizes = [TEXTBOOK_MESSAGE, SECOND_MESSAGE, DOTS].map((m) => Buffer.byteLength(m));
    assert.deepEqual(out.stat, [3, sizes[0]! + sizes[1]! + sizes[2]!]);
    assert.deepEqual(
      out.list,
      sizes.map((s, i) => `${i + 1} ${s}`),
    );
    assert.deepEqual(
      out.uidl,
      uids.map((u, i) => `${i + 1} ${u}`),
    );
    const retr = out.retr as { octets: number; b64: string }[];
    assert.equal(Buffer.from(retr[0]!.b64, 'base64').toString(), TEXTBOOK_MESSAGE);
    assert.equal(Buffer.from(retr[1]!.b64, 'base64').toString(), SECOND_MESSAGE);
    // The stored message lacked a final CRLF; the server added one on the wire only.
    assert.equal(Buffer.from(retr[2]!.b64, 'base64').toString(), `${DOTS}\r\n`);
    assert.equal(
      Buffer.from(out.top as string, 'base64').toString(),
      'From: alice@example.org\r\nTo: kihyun@uu.ac.kr\r\nSubject: Hello\r\n\r\n',
    );
    assert.match(out.dele as string, /^\+OK/);
    assert.match(out.quit as string, /^\+OK/);
    await waitUnlocked(backend);
    assert.deepEqual(
      backend.messages(KIHYUN).map((m) => m.uid),
      uids.slice(1),
    );
  });
}

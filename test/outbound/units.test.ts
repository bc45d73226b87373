/**
 * The pure pieces of outbound delivery, table-tested: routing decisions over the FakeResolver
 * (RFC 5321 §5.1, RFC 7505), the 8BITMIME downgrade's edge cases, SRS, backoff, the DSN's shape,
 * the submission fix-ups (RFC 6409 §8) and the queue's config keys.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { parseMessage } from '../../src/mime/index.js';
import { missingSubmissionFields, withSubmissionFields } from '../../src/mta/inbound/index.js';
import {
  backoffMs,
  buildDsn,
  DEFAULT_RETRY,
  DowngradeError,
  downgradeTo7bit,
  route,
  srsForward,
  srsReverse,
} from '../../src/mta/outbound/index.js';
import { FakeResolver } from '../support/fake-dns.js';
import { tempDir } from '../support/tmp.js';

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

describe('routing', () => {
  const dns = new FakeResolver();
  dns.mx.set('multi.test', [
    { exchange: 'c.multi.test', priority: 20 },
    { exchange: 'a.multi.test', priority: 10 },
    { exchange: 'b.multi.test', priority: 10 },
  ]);
  for (const h of ['a', 'b', 'c']) dns.a.set(`${h}.multi.test`, [`127.0.0.${h.charCodeAt(0) - 96}`]);
  dns.aaaa.set('c.multi.test', ['::1']);
  dns.mx.set('nullmx.test', [{ exchange: '', priority: 0 }]);
  dns.a.set('implicit.test', ['127.0.0.9']);
  dns.txt.set('noaddr.test', [['v=spf1 -all']]);
  dns.mx.set('dangling.test', [{ exchange: 'gone.dangling.test', priority: 10 }]);

  test('MX in preference order, equal preferences shuffled, addresses v4 then v6', async () => {
    const orders = new Set<string>();
    for (const seed of [0, 0.99]) {
      const r = await route('multi.test', { mxPort: 2525 }, dns, () => seed);
      assert.equal(r.kind, 'hops');
      if (r.kind !== 'hops') return;
      assert.equal(r.via, 'mx');
      assert.equal(r.hops[2]!.name, 'c.multi.test');
      assert.deepEqual(r.hops[2]!.addresses, ['127.0.0.3', '::1']);
      assert.equal(r.hops[0]!.port, 2525);
      orders.add(
        r.hops
          .slice(0, 2)
          .map((h) => h.name)
          .join(','),
      );
    }
    assert.deepEqual([...orders].sort(), ['a.multi.test,b.multi.test', 'b.multi.test,a.multi.test']);
  });

  test('null MX, NXDOMAIN, no MX and no address: permanent; dangling MX: temporary', async () => {
    const cases: Array<[string, string, boolean]> = [
      ['nullmx.test', '5.1.10', false],
      ['nowhere.test', '5.1.2', false],
      ['noaddr.test', '5.1.2', false],
      ['dangling.test', '4.4.4', true],
    ];
    for (const [d, status, temporary] of cases) {
      const r = await route(d, {}, dns);
      assert.equal(r.kind, 'fail', d);
      if (r.kind === 'fail') assert.deepEqual([r.status, r.temporary], [status, temporary], d);
    }
  });

  test('implicit MX (A record only); routes and the smarthost win over DNS', async () => {
    const r = await route('implicit.test', {}, dns);
    assert.ok(r.kind === 'hops' && r.via === 'implicit-mx' && r.hops[0]!.addresses[0] === '127.0.0.9');
    const q = dns.queries.length;
    const viaRoute = await route(
      'Multi.TEST',
      { routes: { 'multi.test': { host: '127.0.0.1', port: 2526 } } },
      dns,
    );
    assert.ok(viaRoute.kind === 'hops' && viaRoute.via === 'route' && viaRoute.hops[0]!.port === 2526);
    const viaSmart = await route(
      'x.test',
      {
        smarthost: {
          host: 'relay.test',
          port: 587,
          tls: 'starttls-required',
          auth: { username: 'u', password: 'p' },
        },
      },
      dns,
    );
    assert.ok(
      viaSmart.kind === 'hops' && viaSmart.via === 'smarthost' && viaSmart.hops[0]!.auth?.username === 'u',
    );
    assert.equal(dns.queries.length, q, 'no DNS for routes or the smarthost');
  });

  test('a DNS failure is temporary (4.4.3)', async () => {
    const broken = new FakeResolver();
    broken.resolveMx = async () => {
      throw Object.assign(new Error('SERVFAIL'), { code: 'ESERVFAIL' });
    };
    const r = await route('any.test', {}, broken);
    assert.ok(r.kind === 'fail' && r.temporary && r.status === '4.4.3');
  });
});

describe('8BITMIME downgrade', () => {
  test('7-bit messages pass untouched (same buffer)', () => {
    const m = Buffer.from('Subject: a\r\n\r\nplain\r\n');
    assert.equal(downgradeTo7bit(m), m);
  });

  test('a single-part 8-bit text: quoted-printable, decodes to the same bytes, other fields kept', async () => {
    const body = '한국어 본문\r\nline two é\r\n';
    const m = Buffer.from(`Subject: k\r\nContent-Type: text/plain;\r\n charset="utf-8"\r\n\r\n${body}`);
    const out = downgradeTo7bit(m);
    assert.ok([...out].every((b) => b < 0x80));
    assert.match(
      out.toString(),
      /^Subject: k\r\nContent-Type: text\/plain;\r\n charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n/,
    );
    const parsed = await parseMessage(out);
    assert.equal(parsed.root.body!.toString('utf8'), body);
  });

  test('what cannot be converted faithfully is refused', () => {
    assert.throws(() => downgradeTo7bit(Buffer.from('Subject: 한국\r\n\r\nbody é\r\n')), DowngradeError);
    assert.throws(
      () =>
        downgradeTo7bit(
          Buffer.from(
            'Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n\xff\r\n',
            'latin1',
          ),
        ),
      DowngradeError,
    );
    const preamble = 'Content-Type: multipart/mixed; boundary=b\r\n\r\npre é\r\n--b\r\n\r\nx\r\n--b--\r\n';
    assert.throws(() => downgradeTo7bit(Buffer.from(preamble)), /preamble/);
  });

  test('message/rfc822 parts are converted inside and relabelled 7bit', async () => {
    const inner = 'Subject: inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nünïcödé\r\n';
    const m = Buffer.from(
      `Content-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${inner}\r\n--o--\r\n`,
    );
    const out = downgradeTo7bit(m);
    assert.ok([...out].every((b) => b < 0x80));
    assert.match(out.toString(), /Content-Type: message\/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n/);
    const parsed = await parseMessage(out);
    const leaf = parsed.parts.find((p) => p.contentType.mediaType === 'text/plain')!;
    assert.equal(leaf.body!.toString('utf8'), 'ünïcödé\r\n');
  });
});

describe('SRS', () => {
  const secret = 'test-secret';
  const now = new Date('2026-11-26T00:00:00Z');
  test('forward then reverse gives the sender back; forged and expired addresses are refused', () => {
    const srs = srsForward('Alice@Example.ORG', 'uu.ac.kr', secret, now);
    assert.match(srs, /^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=example\.org=Alice@uu\.ac\.kr$/);
    assert.equal(srsReverse(srs, secret, now), 'Alice@example.org');
    assert.equal(srsReverse(srs.replace(/^SRS0=..../, 'SRS0=AAAA'), secret, now), undefined);
    assert.equal(srsReverse(srs, 'other-secret', now), undefined);
    assert.equal(srsReverse(srs, secret, new Date(now.getTime() + 30 * 86_400_000)), undefined);
    assert.equal(srsReverse('plain@uu.ac.kr', secret, now), undefined);
    assert.equal(srsForward('', 'uu.ac.kr', secret, now), '', 'the null sender stays null');
  });
});

test('backoff: first retry around the minimum, doubling, capped, with ±10% jitter', () => {
  const p = { ...DEFAULT_RETRY };
  assert.equal(
    backoffMs(1, p, () => 0.5),
    300_000,
  );
  assert.equal(
    backoffMs(2, p, () => 0.5),
    600_000,
  );
  assert.equal(
    backoffMs(10, p, () => 0.5),
    4_000_000,
  );
  assert.equal(
    backoffMs(1, p, () => 0),
    270_000,
  );
  assert.equal(
    backoffMs(1, p, () => 1),
    330_000,
  );
});

test('DSN: headers-only return, ORCPT and ENVID, 7-bit text with CRLF, cleaned diagnostic', async () => {
  const original = Buffer.from(
    'Return-Path: <k@uu.ac.kr>\r\nSubject: orig\r\nFrom: k@uu.ac.kr\r\n\r\nsecret body\r\n',
  );
  const dsn = buildDsn({
    reportingMta: 'mx.uu.ac.kr',
    to: 'k@uu.ac.kr',
    envid: 'ENV-1',
    arrivalDate: new Date('2026-11-26T01:02:03Z'),
    recipients: [
      {
        address: 'x@remote.test',
        orcpt: 'rfc822;X@remote.test',
        action: 'failed',
        status: '5.2.2',
        diagnostic: '552 5.2.2 mailbox\r\n full \u00e9',
        diagnosticType: 'smtp',
        remoteMta: 'mx.remote.test',
      },
    ],
    ret: 'HDRS',
    original: async function* () {
      yield original.subarray(0, 10);
      yield original.subarray(10);
    },
  });
  const bytes = await collect(dsn.chunks);
  const text = bytes.toString('latin1');
  assert.ok([...bytes].every((b) => b < 0x80));
  assert.doesNotMatch(text.replace(/\r\n/g, ''), /[\r\n]/, 'CRLF only');
  assert.match(
    text,
    /^From: Mail Delivery System <MAILER-DAEMON@mx\.uu\.ac\.kr>\r\nTo: <k@uu\.ac\.kr>\r\nSubject: Undelivered Mail Returned to Sender\r\n/,
  );
  assert.match(text, /Auto-Submitted: auto-replied\r\n/);
  assert.match(text, /Original-Envelope-Id: ENV-1\r\nArrival-Date: Thu, 26 Nov 2026 01:02:03 \+0000\r\n/);
  assert.match(
    text,
    /Original-Recipient: rfc822;X@remote\.test\r\nAction: failed\r\nStatus: 5\.2\.2\r\nRemote-MTA: dns; mx\.remote\.test\r\nDiagnostic-Code: smtp; 552 5\.2\.2 mailbox full \?\r\n/,
  );
  assert.match(
    text,
    /Content-Type: text\/rfc822-headers\r\n\r\nSubject: orig\r\nFrom: k@uu\.ac\.kr\r\n\r\n--/,
  );
  assert.doesNotMatch(text, /secret body|Return-Path: <k@/);
  const parsed = await parseMessage(bytes);
  assert.equal(parsed.defects.length, 0, JSON.stringify(parsed.defects));
});

test('submission: Date and Message-ID added only when missing, at the top; bytes otherwise as sent', async () => {
  assert.equal(missingSubmissionFields(Buffer.from('Date: x\r\nMessage-id: <a@b>\r\n\r\nbody'), 'h'), '');
  const add = missingSubmissionFields(Buffer.from('Subject: s\r\n\r\nDate: in body\r\n'), 'mx.uu.ac.kr');
  assert.match(add, /^Date: [^\r]+\r\nMessage-ID: <[^>]+@mx\.uu\.ac\.kr>\r\n$/);
  const body = Buffer.from('Subject: split\r\nDate: Thu, 26 Nov 2026 00:00:00 +0000\r\n\r\nhello\r\n');
  const chunks = [body.subarray(0, 5), body.subarray(5, 30), body.subarray(30)];
  const out = await collect(
    withSubmissionFields(
      (async function* () {
        yield* chunks;
      })(),
      'h.test',
    ),
  );
  assert.match(out.toString(), /^Message-ID: <[^>]+@h\.test>\r\nSubject: split\r\nDate: Thu, 26 Nov 2026/);
  assert.ok(out.subarray(out.length - body.length).equals(body));
});

test('config: [routes], [smarthost], [queue], --route; unknown keys still refused', () => {
  const dir = tempDir();
  const file = join(dir, 'p.toml');
  writeFileSync(
    file,
    `[routes]\n"Example.Test" = "127.0.0.1:2526"\n"v6.test" = { host = "::1", port = 2527, tls = "none" }\n` +
      `[smarthost]\nhost = "relay.example"\nport = 587\ntls = "starttls-required"\nuser = "u"\npassword = "p"\n` +
      `[queue]\nmin_backoff = 0.05\nmax_backoff = 1\nmax_age = 3600\nconcurrency = 7\nper_destination = 2\n[srs]\nsecret = "s3"\n`,
  );
  const c = loadConfig({ config: file, route: ['other.test=[::1]:2600'] }, {});
  assert.deepEqual(c.outbound.routes['example.test'], { host: '127.0.0.1', port: 2526, tls: 'starttls' });
  assert.deepEqual(c.outbound.routes['v6.test'], { host: '::1', port: 2527, tls: 'none' });
  assert.deepEqual(c.outbound.routes['other.test'], { host: '::1', port: 2600, tls: 'starttls' });
  assert.deepEqual(c.outbound.smarthost, {
    host: 'relay.example',
    port: 587,
    tls: 'starttls-required',
    auth: { username: 'u', password: 'p' },
  });
  assert.equal(c.outbound.minBackoffMs, 50);
  assert.equal(c.outbound.maxAgeMs, 3_600_000);
  assert.equal(c.outbound.concurrency, 7);
  assert.equal(c.outbound.srsSecret, 's3');
  const defaults = loadConfig({}, {});
  assert.equal(defaults.outbound.minBackoffMs, 300_000);
  assert.equal(defaults.outbound.maxAgeMs, 5 * 86_400_000);
  for (const bad of [
    '[queue]\nretry = 5\n',
    '[smarthost]\nhost = "x"\nsecret = 1\n',
    '[routes]\n"a.test" = "no port:x"\n',
    '[queue]\nmin_backoff = -1\n',
  ]) {
    writeFileSync(file, bad);
    assert.throws(() => loadConfig({ config: file }, {}), ConfigError, bad);
  }
  assert.throws(() => loadConfig({ route: ['nodomain'] }, {}), /--route/);
});

/**
 * The mailbox-managing commands on a local Maildir (no server needed): search, move, delete,
 * folders, reading HTML-only mail as text, --headers; and account commands that must fail
 * cleanly (missing values without a terminal, unknown accounts).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { composeMessageToBuffer } from '../../src/mime/index.js';
import { AccountBook, accountStorage, configDir, dataDir, parseEndpoint } from '../../src/ua/index.js';
import { ua, uaOk, userEnv } from './support.js';

const env = userEnv();

before(async () => {
  const book = new AccountBook(configDir(env));
  const endpoint = (kind: 'smtp' | 'pop3') => parseEndpoint('127.0.0.1:9', kind, 'none');
  for (const name of ['main', 'spare']) {
    await book.add(
      {
        name,
        address: `${name}@example.test`,
        smtp: endpoint('smtp'),
        pop3: endpoint('pop3'),
        tls: 'none',
        tlsVerify: true,
        user: name,
      },
      'pw',
    );
  }
  const { maildir } = accountStorage(dataDir(env), 'main');
  const messages = [
    { from: '김철수 <kim@example.test>', subject: '예산안', text: '올해 예산은 첨부 파일을 보세요.' },
    {
      from: 'news@example.test',
      subject: 'Newsletter',
      html: '<h1>Weekly news</h1><p>Hello <b>reader</b>,</p><ul><li>first item</li></ul><script>x()</script>',
    },
    { from: 'boss@example.test', subject: 'Re: 예산안', text: 'Approved.' },
  ];
  for (const m of messages) {
    const p = await maildir.begin();
    await p.write(await composeMessageToBuffer({ to: 'main@example.test', ...m }));
    await p.commit();
  }
});

test('HTML-only mail is shown as readable text; --headers shows every field decoded', async () => {
  const out = await uaOk(['read', '2'], env);
  assert.match(out, /WEEKLY NEWS/);
  assert.match(out, /Hello reader,/);
  assert.match(out, /\* first item/);
  assert.ok(!out.includes('<b>') && !out.includes('x()'), out);
  const headers = await uaOk(['read', '1', '--headers'], env);
  assert.match(headers, /^Subject: 예산안$/m);
  assert.match(headers, /^Content-Transfer-Encoding: base64$/m);
  assert.match(headers, /^MIME-Version: 1\.0$/m);
});

test('search, move, folders and delete', async () => {
  const hits = await uaOk(['search', '예산'], env);
  assert.deepEqual(
    hits
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/)[0]),
    ['1', '3'],
    'numbers are the folder numbers',
  );
  assert.match(await uaOk(['search', 'from:boss body:approved'], env), /Re: 예산안/);
  assert.match(await uaOk(['search', 'nothing-like-this'], env), /nothing matches/);

  assert.match(await uaOk(['move', '3', 'Archive'], env), /moved message 3 from INBOX to Archive/);
  assert.match(await uaOk(['inbox', '--folder', 'Archive'], env), /boss@example\.test +Re: 예산안/);
  assert.match(await uaOk(['delete', '1'], env), /deleted message 1 from INBOX/);
  const left = (await uaOk(['inbox'], env)).trimEnd().split('\n');
  assert.equal(left.length, 2);
  assert.match(left[1]!, /^ +1 {2}.* Newsletter/, 'read earlier, renumbered');
  const gone = await ua(['delete', '5'], env);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^posthorn: no message 5 in INBOX \(1-1\)\n$/);
});

test('account commands: list marks the default; missing values and unknown accounts fail cleanly', async () => {
  assert.match(await uaOk(['account', 'default', 'spare'], env), /default account: spare/);
  assert.match(await uaOk(['account', 'list'], env), /^ {2}main .*password file\n\* spare /);
  const missing = await ua(['account', 'add', 'x', '--smtp', 'a:1'], env);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'posthorn: missing --address\n');
  const unknown = await ua(['inbox', '--account', 'nope'], env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no account named 'nope'/);
  const refused = await ua(['account', 'test'], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /^smtp 127\.0\.0\.1:9: FAILED: .*ECONNREFUSED/m);
  assert.match(refused.stdout, /^pop3 127\.0\.0\.1:9: FAILED: .*ECONNREFUSED/m);
});

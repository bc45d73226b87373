/** The command line as a newcomer meets it: admin commands, and one clear line for every mistake. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, cliOk } from '../support/posthorn.js';
import { tempDir } from '../support/tmp.js';

/** One line on stderr, no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /\bat .*:\d+:\d+/);
  return lines[0]!;
}

describe('posthorn admin commands', () => {
  const data = tempDir();

  it('adds, lists and deletes domains, users and aliases', async () => {
    await cliOk(['domain', 'add', 'UU.ac.kr', '--data', data]);
    assert.equal(await cliOk(['domain', 'list', '--data', data]), 'uu.ac.kr\n');
    await cliOk(['user', 'add', 'kihyun@uu.ac.kr', '--password-stdin', '--data', data], {
      input: 'kihyun0\n',
    });
    await cliOk(['user', 'add', 'boss@uu.ac.kr', '--password', 'pw', '--admin', '--data', data]);
    assert.equal(await cliOk(['user', 'list', '--data', data]), 'boss@uu.ac.kr\tadmin\nkihyun@uu.ac.kr\n');
    await cliOk(['alias', 'add', 'team@uu.ac.kr', 'kihyun@uu.ac.kr', 'boss@uu.ac.kr', '--data', data]);
    assert.equal(
      await cliOk(['alias', 'list', '--data', data]),
      'team@uu.ac.kr\tkihyun@uu.ac.kr, boss@uu.ac.kr\n',
    );
    await cliOk(['user', 'passwd', 'kihyun@uu.ac.kr', '--password', 'new', '--data', data]);
    await cliOk(['alias', 'del', 'team@uu.ac.kr', '--data', data]);
    await cliOk(['user', 'del', 'boss@uu.ac.kr', '--data', data]);
    assert.equal(await cliOk(['user', 'list', '--data', data]), 'kihyun@uu.ac.kr\n');
  });

  it('says what is wrong in one line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['user', 'add', 'x@nowhere.test', '--password', 'p'], /domain nowhere\.test is not served here/],
      [['user', 'add', 'not-an-address', '--password', 'p'], /not (a valid address|an address)/],
      [['user', 'add', 'kihyun@uu.ac.kr', '--password', 'p'], /already exists/],
      [['user', 'add', 'new@uu.ac.kr'], /no password/],
      [['domain', 'add', 'bad domain'], /not a valid domain/],
      [['domain', 'del', 'none.test'], /no such domain/],
      [['alias', 'add', 'fw@uu.ac.kr', 'ghost@uu.ac.kr'], /neither a user nor an alias/],
      [['user', 'del', 'ghost@uu.ac.kr'], /no such user/],
    ];
    for (const [args, re] of cases) {
      const r = await cli([...args, '--data', data]);
      assert.equal(r.code, 1, `${args.join(' ')} → ${r.code} ${r.stderr}`);
      assert.match(oneLine(r.stderr), re);
      assert.match(r.stderr, /^posthorn: /);
    }
  });
});

describe('posthorn serve refuses to start with one clear line', () => {
  const data = tempDir();

  it('on a bad config file', async () => {
    const file = join(data, 'bad.toml');
    writeFileSync(file, '[smtp]\nmax_size = 1\n');
    const r = await cli(['serve', '--config', file, '--data', data]);
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /bad\.toml: unknown key 'smtp\.max_size'/);
  });

  it('on a bad flag value', async () => {
    const r = await cli(['serve', '--smtp', 'localhost:smtp', '--data', data]);
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /--smtp: 'localhost:smtp' is not host:port or 'off'/);
  });

  it('on a port in use', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await cli([
        'serve',
        '--data',
        data,
        '--smtp',
        `127.0.0.1:${port}`,
        '--pop3',
        'off',
        '--submission',
        'off',
        '--smtps',
        'off',
        '--pop3s',
        'off',
        '--web',
        'off',
      ]);
      assert.equal(r.code, 1);
      assert.match(
        oneLine(r.stderr),
        new RegExp(`cannot listen for smtp on 127\\.0\\.0\\.1:${port}: the port is already in use`),
      );
    } finally {
      blocker.close();
    }
  });
});

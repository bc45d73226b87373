import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseListenAddr } from '../../src/config/index.js';
import { tempDir } from '../support/tmp.js';

describe('config', () => {
  const dir = tempDir();

  it('parses listen addresses', () => {
    assert.deepEqual(parseListenAddr('127.0.0.1:25', 'x'), { host: '127.0.0.1', port: 25 });
    assert.deepEqual(parseListenAddr(':587', 'x'), { host: '0.0.0.0', port: 587 });
    assert.deepEqual(parseListenAddr('2525', 'x'), { host: '0.0.0.0', port: 2525 });
    assert.deepEqual(parseListenAddr('[::1]:110', 'x'), { host: '::1', port: 110 });
    assert.equal(parseListenAddr('off', 'x'), null);
    assert.throws(() => parseListenAddr('localhost:http', '--smtp'), /--smtp: 'localhost:http'/);
    assert.throws(() => parseListenAddr('1.2.3.4:70000', '--pop3'), ConfigError);
  });

  it('has standard ports by default and the data dir for the store', () => {
    const c = loadConfig({}, {});
    assert.equal(c.listen.smtp?.port, 25);
    assert.equal(c.listen.submission?.port, 587);
    assert.equal(c.listen.pop3s?.port, 995);
    assert.match(c.storeUrl, /^sqlite:.*data\/posthorn\.db$/);
  });

  it('flags win over the file, the file over defaults', () => {
    const file = join(dir, 'a.toml');
    writeFileSync(
      file,
      'hostname = "mx.file.test"\n[listen]\nsmtp = "127.0.0.1:2525"\npop3 = "off"\n[smtp]\nmax_recipients = 5\n',
    );
    const c = loadConfig({ config: file, smtp: '127.0.0.1:2626' }, {});
    assert.equal(c.hostname, 'mx.file.test');
    assert.deepEqual(c.listen.smtp, { host: '127.0.0.1', port: 2626 });
    assert.equal(c.listen.pop3, null);
    assert.equal(c.smtp.maxRecipients, 5);
  });

  it('names the file and key of a mistake', () => {
    const file = join(dir, 'bad.toml');
    writeFileSync(file, '[smtp]\nmax_recipents = 5\n');
    assert.throws(
      () => loadConfig({ config: file }, {}),
      new RegExp(`${file}: unknown key 'smtp.max_recipents'`),
    );
    writeFileSync(file, '[smtp]\nmax_recipients = "many"\n');
    assert.throws(() => loadConfig({ config: file }, {}), /smtp\.max_recipients: must be a positive integer/);
    writeFileSync(file, 'hostname = \n');
    assert.throws(() => loadConfig({ config: file }, {}), new RegExp(`^ConfigError: ${file}:1`));
    assert.throws(() => loadConfig({ config: join(dir, 'missing.toml') }, {}), /cannot read \(ENOENT\)/);
  });

  it('the demo binds loopback only', () => {
    const c = loadConfig({ demo: true }, {});
    assert.equal(c.hostname, 'uu.ac.kr');
    for (const l of Object.values(c.listen)) if (l) assert.equal(l.host, '127.0.0.1');
  });
});

/**
 * The user agent's pieces in-process, on real files: the account book (password file modes,
 * environment and command sources), the Maildir (tmp → new, flags, move, stray tmp files),
 * display-width fitting and search terms (reply/forward building: test/mime/mail/reply.test.ts).
 */
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import stringWidth from 'string-width';
import {
  type Account,
  AccountBook,
  fit,
  Maildir,
  type MessageSummary,
  matches,
  parseEndpoint,
  sanitize,
  UaError,
} from '../../src/ua/index.js';
import { tempDir } from '../support/tmp.js';

function account(name: string, extra: Partial<Account> = {}): Account {
  return {
    name,
    address: `${name}@example.test`,
    smtp: parseEndpoint('mail.example.test', 'smtp', 'starttls'),
    pop3: parseEndpoint('mail.example.test', 'pop3', 'starttls'),
    tls: 'starttls',
    tlsVerify: true,
    user: `${name}@example.test`,
    ...extra,
  };
}

describe('account book', () => {
  test('the password is a 0600 file in a 0700 directory, never in accounts.toml', async () => {
    const dir = tempDir();
    const book = new AccountBook(join(dir, 'posthorn'));
    await book.add(account('work'), 's3cret-비밀');
    assert.equal(statSync(join(dir, 'posthorn', 'passwords')).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'posthorn', 'passwords', 'work')).mode & 0o777, 0o600);
    assert.ok(!readFileSync(join(dir, 'posthorn', 'accounts.toml'), 'utf8').includes('s3cret'));
    assert.equal(await book.password(await book.get()), 's3cret-비밀');
    chmodSync(join(dir, 'posthorn', 'passwords', 'work'), 0o644);
    await assert.rejects(book.password(await book.get('work')), /readable by others; chmod 600/);
  });

  test('environment variable and command sources; default account; removal', async () => {
    const book = new AccountBook(join(tempDir(), 'posthorn'));
    await book.add(account('a', { passwordEnv: 'UA_TEST_PW' }));
    await book.add(account('b', { passwordCommand: "printf 'from-cmd\\nsecond line'" }));
    await book.add(account('c', { passwordCommand: 'exit 3' }));
    assert.equal((await book.get()).name, 'a', 'the first account is the default');
    assert.equal(await book.password(await book.get('a'), { UA_TEST_PW: 'from-env' }), 'from-env');
    await assert.rejects(book.password(await book.get('a'), {}), /UA_TEST_PW is not set/);
    assert.equal(await book.password(await book.get('b')), 'from-cmd');
    await assert.rejects(book.password(await book.get('c')), /password command failed/);
    await book.setDefault('b');
    assert.equal((await book.get()).name, 'b');
    await book.remove('b');
    assert.equal((await book.get()).name, 'a');
    await assert.rejects(book.get('zzz'), UaError);
    assert.deepEqual(await book.passwordSource(await book.get('a')), 'env UA_TEST_PW');
  });

  test('endpoints: default ports per TLS mode (RFC 8314), IPv6 literals, bad input', () => {
    assert.deepEqual(parseEndpoint('smtp.x', 'smtp', 'starttls'), { host: 'smtp.x', port: 587 });
    assert.deepEqual(parseEndpoint('smtp.x', 'smtp', 'implicit'), { host: 'smtp.x', port: 465 });
    assert.deepEqual(parseEndpoint('pop.x', 'pop3', 'implicit'), { host: 'pop.x', port: 995 });
    assert.deepEqual(parseEndpoint('[::1]:1100', 'pop3', 'none'), { host: '::1', port: 1100 });
    assert.throws(() => parseEndpoint('a:b:c', 'smtp', 'none'), UaError);
    assert.throws(() => parseEndpoint('h:70000', 'smtp', 'none'), /out of range/);
  });
});

describe('Maildir', () => {
  test('tmp → new only on commit; abort and stray tmp files leave nothing', async () => {
    const md = new Maildir(join(tempDir(), 'Maildir'));
    const p = await md.begin({ uid: 'UID-é 1' });
    await p.write(Buffer.from('Subject: a\r\n\r\nx\r\n'));
    assert.equal(readdirSync(join(md.root, 'new')).length, 0, 'invisible before commit');
    await p.commit();
    assert.equal(readdirSync(join(md.root, 'new')).length, 1);
    assert.deepEqual([...(await md.uidTags())], [Buffer.from('UID-é 1').toString('hex')]);
    const q = await md.begin();
    await q.write(Buffer.from('y'));
    await q.abort();
    writeFileSync(join(md.root, 'tmp', '1.M1Q1P999999.host'), 'left by a crashed run');
    assert.equal(await md.cleanTmp(), 0, 'younger than 36 hours: maybe another writer');
    assert.equal(await md.cleanTmp('INBOX', 0), 1);
    assert.deepEqual(readdirSync(join(md.root, 'tmp')), []);
  });

  test('flags, move and remove; numbering follows delivery order', async () => {
    const md = new Maildir(join(tempDir(), 'Maildir'));
    for (const s of ['one', 'two', 'three']) {
      const p = await md.begin();
      await p.write(Buffer.from(`Subject: ${s}\r\n\r\n`));
      await p.commit();
    }
    let list = await md.list('INBOX');
    assert.equal(list.length, 3);
    const text = async (id: string) => {
      const parts: Buffer[] = [];
      for await (const c of md.read('INBOX', id)) parts.push(Buffer.from(c));
      return Buffer.concat(parts).toString();
    };
    assert.match(await text(list[0]!.id), /one/);
    assert.match(await text(list[2]!.id), /three/);
    await md.setFlags('INBOX', list[1]!.id, ['\\Seen', '\\Answered']);
    list = await md.list('INBOX');
    assert.deepEqual(list[1]!.flags.sort(), ['\\Answered', '\\Seen']);
    assert.ok(readdirSync(join(md.root, 'cur'))[0]!.endsWith(':2,RS'));
    await md.move('INBOX', list[0]!.id, 'Archive');
    await md.remove('INBOX', list[2]!.id);
    assert.equal((await md.list('INBOX')).length, 1);
    assert.equal((await md.list('Archive')).length, 1);
    assert.deepEqual((await md.folders()).sort(), ['Archive', 'INBOX']);
    assert.throws(() => md.dir('../escape'), RangeError);
  });
});

describe('display width', () => {
  test('fit pads and cuts by columns, counting Hangul and CJK as two', () => {
    for (const [text, width] of [
      ['안녕하세요', 7],
      ['안녕하세요', 10],
      ['abc한글def', 6],
      ['会议 🎉 ok', 5],
      ['', 3],
    ] as const) {
      const out = fit(text, width);
      assert.equal(stringWidth(out), width, `${text} → '${out}'`);
    }
    assert.equal(fit('안녕하세요', 7), '안녕하~');
    assert.equal(fit('안녕하세요', 8), '안녕하~ ', 'a wide character never half-shown');
    assert.equal(fit('12', 4, 'right'), '  12');
  });

  test('terminal escapes in header text are neutralised', () => {
    assert.equal(sanitize('a\x1b[2Jb\r\nc\u009bd'), 'a\ufffd[2Jb c\ufffdd');
  });
});

describe('search', () => {
  test('search terms: field prefixes, quoted phrases, all must match', () => {
    const s = {
      from: '김철수',
      to: 'me@example.test',
      subject: '분기 보고서',
      text: 'The budget is attached',
    } as MessageSummary;
    assert.ok(matches(s, '보고서'));
    assert.ok(matches(s, 'from:김철수 body:budget'));
    assert.ok(matches(s, 'body:"budget is"'));
    assert.ok(!matches(s, 'subject:budget'));
    assert.ok(!matches(s, '보고서 missing'));
  });
});

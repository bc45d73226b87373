import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateMessageId, parseMessageId, parseMessageIds } from '../../../src/mime/mail/message-id.js';

describe('generateMessageId', () => {
  test('<unique@domain>, a valid msg-id, never repeating', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = generateMessageId('example.org');
      assert.match(id, /^<[A-Za-z0-9._-]+@example\.org>$/);
      seen.add(id);
    }
    assert.equal(seen.size, 10_000);
    assert.deepEqual(parseMessageIds(generateMessageId('x.test')).length, 1);
  });
});

describe('parseMessageIds', () => {
  test('RFC 5322 A.2 / A.3 fields', () => {
    assert.deepEqual(parseMessageIds('<1234@local.machine.example>'), ['<1234@local.machine.example>']);
    assert.deepEqual(parseMessageIds('<1234@local.machine.example> <3456@example.net>'), [
      '<1234@local.machine.example>',
      '<3456@example.net>',
    ]);
    assert.deepEqual(parseMessageIds('<78910@example.net>\r\n <1234@local.machine.example>'), [
      '<78910@example.net>',
      '<1234@local.machine.example>',
    ]);
    assert.equal(parseMessageId('              <testabcd.1234@silly.test>'), '<testabcd.1234@silly.test>');
  });
  test('comments, commas, obsolete phrases in In-Reply-To are skipped', () => {
    assert.deepEqual(parseMessageIds('(first) <a@b>, "Your message of" <c@d> (sent yesterday)'), [
      '<a@b>',
      '<c@d>',
    ]);
  });
  test('folded inside an id, unbracketed ids, unterminated bracket', () => {
    assert.deepEqual(parseMessageIds('<very.long.id\r\n @example.com> bare@example.org <open@x'), [
      '<very.long.id@example.com>',
      '<bare@example.org>',
      '<open@x>',
    ]);
  });
  test('empty and junk', () => {
    assert.deepEqual(parseMessageIds(''), []);
    assert.deepEqual(parseMessageIds('no ids here <>'), []);
    assert.equal(parseMessageId('junk'), undefined);
  });
});

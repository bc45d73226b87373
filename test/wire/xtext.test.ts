import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeXtext, encodeXtext } from '../../src/wire/index.js';

test('xtext: RFC 3461 examples and round trips', () => {
  assert.equal(encodeXtext('a+b=c'), 'a+2Bb+3Dc');
  assert.equal(encodeXtext('user name'), 'user+20name');
  assert.equal(encodeXtext('rfc822;x@y'), 'rfc822;x@y');
  assert.equal(decodeXtext('a+2Bb+3Dc'), 'a+b=c');
  assert.equal(decodeXtext('QQ314159'), 'QQ314159');
  for (const s of ['', 'plain', '+=+=', 'é日本', 'a b\tc', '\u{1F600}'])
    assert.equal(decodeXtext(encodeXtext(s)), s);
});

test('xtext: invalid input is undefined, not guessed', () => {
  assert.equal(decodeXtext('a+2'), undefined);
  assert.equal(decodeXtext('a+ZZ'), undefined);
  assert.equal(decodeXtext('a=b'), undefined);
  assert.equal(decodeXtext('a b'), undefined);
  assert.equal(decodeXtext('a+2bb'), 'a+b');
});

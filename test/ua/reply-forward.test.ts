/**
 * Threads end to end: Alice writes to Bob (Cc Carol) asking for a read receipt; Bob replies to
 * all, forwards inline (the attachment goes along) and as an attachment (message/rfc822), and
 * sends the receipt (RFC 8098). Each recipient fetches over POP3 and the threading fields
 * (RFC 5322 §3.6.4), subjects, quoting and attachment bytes are checked on what arrived.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ParsedMessage, parseMessage } from '../../src/mime/index.js';
import { accountStorage, dataDir } from '../../src/ua/index.js';
import { tempDir } from '../support/tmp.js';
import { addAccountDirect, DOMAIN, type Server, startServer, ua, uaOk, userEnv } from './support.js';

const alice = `alice@${DOMAIN}`;
const bob = `bob@${DOMAIN}`;
const carol = `carol@${DOMAIN}`;
const env = { alice: userEnv(), bob: userEnv(), carol: userEnv() };
const work = tempDir('posthorn-ua-thread-');
const sheet = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0xff, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a, 0x80]);
let srv: Server;

before(async () => {
  srv = await startServer([alice, bob, carol]);
  await addAccountDirect(env.alice, 'a', alice, srv);
  await addAccountDirect(env.bob, 'b', bob, srv);
  await addAccountDirect(env.carol, 'c', carol, srv);
});
after(() => srv?.close());

/** Every message in a user's INBOX, parsed, oldest first. */
async function inbox(who: keyof typeof env, account: string): Promise<ParsedMessage[]> {
  const { maildir } = accountStorage(dataDir(env[who]), account);
  const out: ParsedMessage[] = [];
  for (const e of await maildir.list('INBOX')) out.push(await parseMessage(maildir.read('INBOX', e.id)));
  return out;
}

test('reply --all, forward inline and as attachment, and a read receipt thread correctly', async () => {
  const file = join(work, '예산표.xlsx');
  writeFileSync(file, sheet);
  await uaOk(
    [
      'send',
      '--to',
      bob,
      '--cc',
      carol,
      '--subject',
      '예산 검토',
      '-m',
      '첫 줄\n둘째 줄',
      '--attach',
      file,
      '--receipt',
    ],
    env.alice,
  );
  await uaOk(['fetch'], env.bob);
  // Not a terminal: no question, a hint instead (RFC 8098 §2.1: only with the user's consent).
  const read = await ua(['read', '1'], env.bob);
  assert.equal(read.code, 0, read.stderr);
  assert.match(read.stderr, /asks for a read receipt; send it with: posthorn read 1 --send-receipt/);
  const [orig] = await inbox('bob', 'b');
  assert.ok(orig?.messageId);

  await uaOk(['reply', '1', '--all', '-m', '확인했습니다.'], env.bob);
  await uaOk(['forward', '1', '--to', carol, '-m', '참고하세요.'], env.bob);
  await uaOk(['forward', '1', '--to', carol, '--as-attachment', '-m', '원본 첨부'], env.bob);
  await uaOk(['read', '1', '--send-receipt'], env.bob);
  const [bobsCopy] = await accountStorage(dataDir(env.bob), 'b').maildir.list('INBOX');
  assert.deepEqual(bobsCopy?.flags.sort(), ['$Forwarded', '\\Answered', '\\Seen']);

  await uaOk(['fetch'], env.alice);
  const [reply, mdn] = await inbox('alice', 'a');
  assert.equal(reply?.subject, 'Re: 예산 검토');
  assert.equal(reply.inReplyTo, orig.messageId);
  assert.deepEqual(reply.references, [orig.messageId]);
  assert.deepEqual(
    reply.to.map((m) => m.address),
    [alice],
  );
  assert.deepEqual(
    reply.cc.map((m) => m.address),
    [carol],
    'reply to all keeps Carol, drops Bob himself',
  );
  assert.match(reply.text!, /^확인했습니다\.\n\nOn .+, alice@example\.test wrote:\n> 첫 줄\n> 둘째 줄\n$/);

  assert.equal(mdn?.subject, 'Read: 예산 검토');
  assert.equal(mdn.inReplyTo, orig.messageId);
  const report = mdn.attachments.find((a) => a.contentType === 'message/disposition-notification');
  assert.ok(report?.content);
  assert.match(report.content.toString(), /^Original-Message-ID: <[^>]+>\r$/m);
  assert.match(report.content.toString(), /^Disposition: manual-action\/MDN-sent-manually; displayed\r$/m);

  await uaOk(['fetch'], env.carol);
  const [cc, replyCc, fwd, fwdAtt] = await inbox('carol', 'c');
  assert.equal(cc?.subject, '예산 검토');
  assert.equal(replyCc?.messageId, reply.messageId, 'Carol got the reply to all');
  assert.equal(fwd?.subject, 'Fwd: 예산 검토');
  assert.deepEqual(fwd.references, [orig.messageId]);
  assert.match(
    fwd.text!,
    /^참고하세요\.\n\n---------- Forwarded message ---------\nFrom: alice@example\.test\n/,
  );
  assert.match(fwd.text!, /\n\n첫 줄\n둘째 줄/);
  assert.equal(fwd.attachments.length, 1);
  assert.equal(fwd.attachments[0]!.filename, '예산표.xlsx');
  assert.ok(fwd.attachments[0]!.content!.equals(sheet), 'attachment bytes kept on forward');

  assert.equal(fwdAtt?.subject, 'Fwd: 예산 검토');
  const inner = fwdAtt.attachments.find((a) => a.contentType === 'message/rfc822');
  assert.ok(inner, 'the original travels as message/rfc822');
  const innerMsg = await parseMessage(inner.content ?? Buffer.alloc(0));
  assert.equal(innerMsg.subject, '예산 검토');
  assert.equal(innerMsg.messageId, orig.messageId);
});

/**
 * Building the client's command lines (RFC 5321 §4.1.1) and their ESMTP parameters: SIZE
 * (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET/ENVID/NOTIFY/ORCPT (RFC 3461, xtext).
 *
 * Failure semantics: every value is checked before anything is written: CR, LF or NUL anywhere
 * (they would end the line and inject a command, as in nodemailer's EHLO/envelope advisories),
 * a mailbox that is not RFC 5321 syntax, or a parameter value outside its grammar throws a
 * permanent SmtpClientError 'invalid'. Nothing is ever repaired or dropped silently.
 */

import { encodeXtext } from '../../wire/xtext.js';
import { MAX_ENVID_CHARS } from '../codec/limits.js';
import { isAddressLiteral, isDomain, mailboxProblem } from '../codec/path.js';
import { SmtpClientError, type SmtpClientStage } from './errors.js';

/** RFC 3461 §4.1 NOTIFY values. */
export type NotifyValue = 'SUCCESS' | 'FAILURE' | 'DELAY' | 'NEVER';

/** Throws unless `value` is free of CR, LF and NUL. */
export function assertLineSafe(value: string, what: string, stage: SmtpClientStage): void {
  if (/[\r\n\0]/.test(value)) {
    throw new SmtpClientError('invalid', stage, `${what} contains CR, LF or NUL; refusing to send it`);
  }
}

/** True when the string has characters outside US-ASCII (needs SMTPUTF8, RFC 6531 §3.4). */
export function isNonAscii(value: string): boolean {
  return /[^\x00-\x7f]/.test(value);
}

/** The EHLO/HELO argument: a domain or an address literal (RFC 5321 §4.1.1.1). */
export function checkLocalName(name: string): void {
  assertLineSafe(name, 'EHLO name', 'ehlo');
  if (isNonAscii(name) || (!isDomain(name) && !isAddressLiteral(name))) {
    throw new SmtpClientError(
      'invalid',
      'ehlo',
      `EHLO name ${JSON.stringify(name)} is not a domain or address literal`,
    );
  }
}

/** Checks a reverse-path ('' is the null path) or forward-path mailbox. */
export function checkMailbox(address: string, stage: 'mail' | 'rcpt'): void {
  const what = stage === 'mail' ? 'sender address' : 'recipient address';
  assertLineSafe(address, what, stage);
  if (stage === 'mail' && address === '') return;
  if (stage === 'rcpt' && /^postmaster$/i.test(address)) return;
  const problem = mailboxProblem(address);
  if (problem !== undefined) {
    throw new SmtpClientError('invalid', stage, `${what} ${JSON.stringify(address)} is invalid: ${problem}`);
  }
}

export interface MailParams {
  size?: number;
  body8bit?: boolean;
  smtputf8?: boolean;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
}

export function mailCommand(from: string, p: MailParams): string {
  checkMailbox(from, 'mail');
  let line = `MAIL FROM:<${from}>`;
  if (p.size !== undefined) {
    if (!Number.isSafeInteger(p.size) || p.size < 0)
      throw new SmtpClientError('invalid', 'mail', `bad SIZE ${p.size}`);
    line += ` SIZE=${p.size}`;
  }
  if (p.body8bit) line += ' BODY=8BITMIME';
  if (p.smtputf8) line += ' SMTPUTF8';
  if (p.ret !== undefined) {
    if (p.ret !== 'FULL' && p.ret !== 'HDRS')
      throw new SmtpClientError('invalid', 'mail', `bad RET ${p.ret}`);
    line += ` RET=${p.ret}`;
  }
  if (p.envid !== undefined) {
    assertLineSafe(p.envid, 'ENVID', 'mail');
    if (p.envid.length === 0 || p.envid.length > MAX_ENVID_CHARS) {
      throw new SmtpClientError('invalid', 'mail', `ENVID must be 1-${MAX_ENVID_CHARS} characters`);
    }
    line += ` ENVID=${encodeXtext(p.envid)}`;
  }
  return line;
}

export interface RcptParams {
  notify?: NotifyValue[];
  orcpt?: { type: string; address: string };
}

export function rcptCommand(to: string, p: RcptParams): string {
  checkMailbox(to, 'rcpt');
  let line = `RCPT TO:<${to}>`;
  if (p.notify !== undefined) {
    const ok = ['SUCCESS', 'FAILURE', 'DELAY', 'NEVER'];
    if (p.notify.length === 0 || !p.notify.every((n) => ok.includes(n))) {
      throw new SmtpClientError('invalid', 'rcpt', `bad NOTIFY ${JSON.stringify(p.notify)}`);
    }
    if (p.notify.includes('NEVER') && p.notify.length > 1) {
      throw new SmtpClientError('invalid', 'rcpt', 'NOTIFY=NEVER cannot be combined (RFC 3461 §4.1)');
    }
    line += ` NOTIFY=${[...new Set(p.notify)].join(',')}`;
  }
  if (p.orcpt !== undefined) {
    assertLineSafe(p.orcpt.type, 'ORCPT type', 'rcpt');
    assertLineSafe(p.orcpt.address, 'ORCPT address', 'rcpt');
    if (!/^[A-Za-z0-9-]+$/.test(p.orcpt.type))
      throw new SmtpClientError('invalid', 'rcpt', 'bad ORCPT address type');
    line += ` ORCPT=${p.orcpt.type};${encodeXtext(p.orcpt.address)}`;
  }
  return line;
}

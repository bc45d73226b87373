/**
 * SMTP command lines (RFC 5321 §4.1) parsed into typed values, sans-I/O: the server and the
 * client share this. Verbs are case-insensitive; MAIL/RCPT take a path (see path.ts) and ESMTP
 * parameters `KEYWORD[=value]` (§4.1.2), whose keywords are upper-cased.
 *
 * Leniency, written down: one or more spaces are accepted between the colon of `MAIL FROM:` /
 * `RCPT TO:` and the path, and between parameters (real clients send both). Everything else is
 * strict.
 *
 * Failure semantics: `parseCommand` returns `{ verb: 'UNKNOWN' }` for verbs it does not know and
 * throws SmtpError (501 5.5.4 / 553 5.1.x / 500 5.5.2) for a known verb with bad arguments.
 * `mailOptions` / `rcptOptions` throw SmtpError with 555 5.5.4 for an unknown parameter and
 * 501 5.5.4 for a bad value.
 */
import { decodeXtext } from '../../wire/index.js';
import { type MailOptions, type RcptOptions, SmtpError } from '../server/backend.js';
import { MAX_ENVID_CHARS } from './limits.js';
import { type ParsedPath, parsePath } from './path.js';

export type SmtpCommand =
  | { verb: 'HELO' | 'EHLO'; domain: string }
  | { verb: 'MAIL'; path: ParsedPath; params: Record<string, string> }
  | { verb: 'RCPT'; path: ParsedPath; params: Record<string, string> }
  | { verb: 'DATA' | 'RSET' | 'QUIT' | 'STARTTLS' }
  | { verb: 'NOOP' | 'HELP'; arg: string }
  | { verb: 'VRFY' | 'EXPN'; arg: string }
  | { verb: 'BDAT'; size: number; last: boolean }
  | { verb: 'AUTH'; mechanism: string; initialResponse?: string }
  | { verb: 'UNKNOWN'; name: string };

export type SmtpVerb = SmtpCommand['verb'];

const utf8 = new TextDecoder('utf-8', { fatal: true });

function syntax(text: string): SmtpError {
  return new SmtpError(501, '5.5.4', text);
}

/** Parses one command line (without its CRLF). */
export function parseCommand(line: Buffer | string): SmtpCommand {
  let text: string;
  if (typeof line === 'string') text = line;
  else {
    try {
      text = utf8.decode(line);
    } catch {
      throw new SmtpError(500, '5.5.2', 'Invalid UTF-8 in command');
    }
  }
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(text))
    throw new SmtpError(500, '5.5.2', 'Control characters in command');
  const sp = text.indexOf(' ');
  const name = (sp < 0 ? text : text.slice(0, sp)).toUpperCase();
  const args = sp < 0 ? '' : text.slice(sp + 1);
  const noArgs = () => {
    if (args.trim() !== '') throw syntax(`${name} takes no arguments`);
  };
  switch (name) {
    case 'HELO':
    case 'EHLO': {
      const domain = args.trim().split(/\s+/)[0] ?? '';
      if (domain === '') throw syntax(`${name} requires a domain or address literal`);
      return { verb: name, domain };
    }
    case 'MAIL':
    case 'RCPT': {
      const m = (name === 'MAIL' ? /^FROM: */i : /^TO: */i).exec(args);
      if (!m) throw syntax(name === 'MAIL' ? 'Syntax: MAIL FROM:<address>' : 'Syntax: RCPT TO:<address>');
      const parsed = parsePath(args.slice(m[0].length), { kind: name });
      if (parsed instanceof SmtpError) throw parsed;
      return { verb: name, path: parsed.path, params: parseParams(parsed.rest) };
    }
    case 'DATA':
    case 'RSET':
    case 'QUIT':
    case 'STARTTLS':
      noArgs();
      return { verb: name };
    case 'NOOP':
    case 'HELP':
      return { verb: name, arg: args.trim() };
    case 'VRFY':
    case 'EXPN':
      if (args.trim() === '') throw syntax(`${name} requires an argument`);
      return { verb: name, arg: args.trim() };
    case 'BDAT': {
      const m = /^(\d{1,15})(?: +(LAST))? *$/i.exec(args);
      if (!m) throw syntax('Syntax: BDAT <size> [LAST]');
      return { verb: 'BDAT', size: Number(m[1]), last: m[2] !== undefined };
    }
    case 'AUTH': {
      const parts = args.trim().split(/ +/);
      const mechanism = (parts[0] ?? '').toUpperCase();
      if (mechanism === '' || parts.length > 2) throw syntax('Syntax: AUTH mechanism [initial-response]');
      return parts[1] === undefined
        ? { verb: 'AUTH', mechanism }
        : { verb: 'AUTH', mechanism, initialResponse: parts[1] };
    }
    default:
      return { verb: 'UNKNOWN', name };
  }
}

const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
// esmtp-value: %d33-60 / %d62-126, extended to UTF-8 by RFC 6531 §4.2.
const VALUE = /^[\x21-\x3c\x3e-\x7e\u0080-\u{10ffff}]+$/u;

/** Parses ` KEY=value KEY2` after a path; keys upper-cased, a key without value maps to ''. */
export function parseParams(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const item of text.split(' ')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const key = (eq < 0 ? item : item.slice(0, eq)).toUpperCase();
    const value = eq < 0 ? '' : item.slice(eq + 1);
    if (!KEYWORD.test(key) || (eq >= 0 && !VALUE.test(value))) throw syntax(`Invalid parameter ${item}`);
    if (Object.hasOwn(params, key)) throw syntax(`Duplicate parameter ${key}`);
    params[key] = value;
  }
  return params;
}

function unknownParam(key: string): SmtpError {
  return new SmtpError(555, '5.5.4', `Unsupported parameter ${key}`);
}

/** MAIL FROM parameters → MailOptions (SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH). */
export function mailOptions(params: Record<string, string>): MailOptions {
  const opts: MailOptions = { raw: params };
  for (const [key, value] of Object.entries(params)) {
    switch (key) {
      case 'SIZE':
        if (!/^\d{1,15}$/.test(value)) throw syntax('SIZE needs a number');
        opts.size = Number(value);
        break;
      case 'BODY': {
        const v = value.toUpperCase();
        if (v !== '7BIT' && v !== '8BITMIME' && v !== 'BINARYMIME')
          throw syntax('BODY must be 7BIT, 8BITMIME or BINARYMIME');
        opts.body = v;
        break;
      }
      case 'SMTPUTF8':
        if (value !== '') throw syntax('SMTPUTF8 takes no value');
        opts.smtputf8 = true;
        break;
      case 'RET': {
        const v = value.toUpperCase();
        if (v !== 'FULL' && v !== 'HDRS') throw syntax('RET must be FULL or HDRS');
        opts.ret = v;
        break;
      }
      case 'ENVID': {
        const v = decodeXtext(value);
        if (v === undefined || value.length > MAX_ENVID_CHARS)
          throw syntax('ENVID must be xtext of at most 100 characters');
        opts.envid = v;
        break;
      }
      case 'AUTH': {
        const v = value === '<>' ? '<>' : decodeXtext(value);
        if (v === undefined || value === '') throw syntax('AUTH= must be xtext or <>');
        opts.auth = v;
        break;
      }
      default:
        throw unknownParam(key);
    }
  }
  return opts;
}

/** RCPT TO parameters → RcptOptions (NOTIFY, ORCPT). */
export function rcptOptions(params: Record<string, string>): RcptOptions {
  const opts: RcptOptions = { raw: params };
  for (const [key, value] of Object.entries(params)) {
    switch (key) {
      case 'NOTIFY': {
        const list = value.toUpperCase().split(',');
        const ok =
          (list.length === 1 && list[0] === 'NEVER') ||
          (list.every((v) => v === 'SUCCESS' || v === 'FAILURE' || v === 'DELAY') &&
            new Set(list).size === list.length);
        if (!ok) throw syntax('NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY');
        opts.notify = list as RcptOptions['notify'];
        break;
      }
      case 'ORCPT': {
        const semi = value.indexOf(';');
        const type = semi < 0 ? '' : value.slice(0, semi);
        const address = semi < 0 ? undefined : decodeXtext(value.slice(semi + 1));
        if (!KEYWORD.test(type) || address === undefined || address === '')
          throw syntax('ORCPT must be addr-type;xtext');
        opts.orcpt = { type: type.toLowerCase() === 'rfc822' ? 'rfc822' : type, address };
        break;
      }
      default:
        throw unknownParam(key);
    }
  }
  return opts;
}

/** Formats a command line for the client side; throws TypeError when a value carries CR, LF or NUL. */
export function formatCommand(verb: string, ...args: string[]): string {
  const line = [verb, ...args].join(' ');
  if (/[\r\n\0]/.test(line)) throw new TypeError('CR, LF or NUL in an SMTP command');
  return `${line}\r\n`;
}

/**
 * SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 2034, RFC 3463), sans-I/O.
 * `formatReply` writes `250-first` … `250 last` with the enhanced code on every line;
 * `parseReply` and `ReplyParser` read them back for the client.
 *
 * Failure semantics: `formatReply` throws TypeError when the text contains CR or LF (it would
 * inject lines) or the code is not 2xx-5xx; the parsers return undefined / throw SyntaxError on a
 * malformed reply line instead of guessing.
 */
import type { SmtpReply } from '../server/backend.js';

const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})$/;

export function formatReply(reply: SmtpReply): string {
  if (!Number.isInteger(reply.code) || reply.code < 200 || reply.code > 599) {
    throw new TypeError(`bad SMTP reply code ${reply.code}`);
  }
  const lines = Array.isArray(reply.text) ? reply.text : [reply.text];
  if (lines.length === 0) lines.push('');
  const prefix = reply.enhanced === undefined ? '' : `${reply.enhanced} `;
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    if (/[\r\n]/.test(text)) throw new TypeError('CR or LF in SMTP reply text');
    const sep = i === lines.length - 1 ? ' ' : '-';
    out += `${reply.code}${sep}${prefix}${text}`.trimEnd() + '\r\n';
  }
  return out;
}

/**
 * Incremental reply reader: feed lines (without CRLF); returns the reply once its last line came.
 * Enhanced codes are recognised when the first line starts with one whose class matches the code.
 */
export class ReplyParser {
  private lines: string[] = [];
  private code = 0;

  push(line: string): SmtpReply | undefined {
    const m = /^(\d{3})([ -]|$)(.*)$/.exec(line);
    if (!m) throw new SyntaxError(`malformed SMTP reply line: ${JSON.stringify(line.slice(0, 80))}`);
    const code = Number(m[1]);
    if (this.lines.length > 0 && code !== this.code)
      throw new SyntaxError('reply code changed inside a multi-line reply');
    this.code = code;
    this.lines.push(m[3]!);
    if (m[2] === '-') return undefined;
    const lines = this.lines;
    this.lines = [];
    return toReply(code, lines);
  }
}

function toReply(code: number, lines: string[]): SmtpReply {
  const first = /^(\S+) /.exec(lines[0] ?? '') ?? /^(\S+)$/.exec(lines[0] ?? '');
  const enh = first?.[1];
  const em = enh === undefined ? null : ENHANCED.exec(enh);
  if (em && Number(em[1]) === Math.floor(code / 100)) {
    const strip = (l: string) => (l.startsWith(`${enh} `) ? l.slice(enh!.length + 1) : l === enh ? '' : l);
    const text = lines.map(strip);
    return { code, enhanced: enh!, text: text.length === 1 ? text[0]! : text };
  }
  return { code, text: lines.length === 1 ? lines[0]! : lines };
}

/** Parses a whole reply (one or more CRLF- or LF-separated lines). */
export function parseReply(text: string): SmtpReply {
  const parser = new ReplyParser();
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const r = parser.push(lines[i]!);
    if (r) {
      if (i !== lines.length - 1) throw new SyntaxError('text after the last reply line');
      return r;
    }
  }
  throw new SyntaxError('incomplete SMTP reply');
}

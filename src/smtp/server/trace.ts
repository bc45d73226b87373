/**
 * What a traced SMTP command line shows: everything but secrets. An AUTH initial response
 * (RFC 4954) is masked; so is a lone base64-looking token that is no SMTP verb (a SASL response
 * a client sent after its AUTH was refused). SASL exchange lines are masked whole by the caller.
 */
import { TRACE_MASK } from '../../core/index.js';

const AUTH_WITH_RESPONSE = /^(\s*AUTH\s+\S+)\s+\S/i;
const LONE_TOKEN = /^[A-Za-z0-9+/]{4,}={0,2}$/;
const VERBS = /^(HELO|EHLO|LHLO|MAIL|RCPT|DATA|BDAT|RSET|VRFY|EXPN|NOOP|HELP|QUIT|STARTTLS|AUTH|TURN|ETRN)$/i;

export function maskSmtpCommand(line: string): string {
  const auth = AUTH_WITH_RESPONSE.exec(line);
  if (auth) return `${auth[1]} ${TRACE_MASK}`;
  if (LONE_TOKEN.test(line) && !VERBS.test(line)) return TRACE_MASK;
  return line;
}

/**
 * What a traced POP3 command line shows: everything but secrets. PASS arguments, APOP digests and
 * AUTH initial responses (RFC 5034) are masked, and so is a lone base64-looking token that is no
 * POP3 command (a SASL response sent after its AUTH was refused). SASL exchange lines are masked
 * whole by the caller.
 */
import { TRACE_MASK } from '../../core/index.js';

const PASS = /^(\s*PASS)(\s.*)$/i;
const WITH_SECRET = /^(\s*(?:AUTH|APOP)\s+\S+)\s+\S/i;
const LONE_TOKEN = /^[A-Za-z0-9+/]{4,}={0,2}$/;
const COMMANDS = /^(USER|PASS|APOP|AUTH|STLS|CAPA|QUIT|STAT|LIST|RETR|DELE|NOOP|RSET|TOP|UIDL)$/i;

export function maskPop3Command(line: string): string {
  const pass = PASS.exec(line);
  if (pass) return `${pass[1]} ${TRACE_MASK}`;
  const secret = WITH_SECRET.exec(line);
  if (secret) return `${secret[1]} ${TRACE_MASK}`;
  if (LONE_TOKEN.test(line) && !COMMANDS.test(line)) return TRACE_MASK;
  return line;
}

/**
 * The SMTP client: connect/EHLO/STARTTLS/AUTH/send over TCP or TLS (RFC 5321, 3207, 4954, 2920,
 * 3030, 1870, 6152, 6531, 3461). See client.ts for the failure semantics.
 */
export { BDAT_CHUNK_OCTETS } from './bdat.js';
export { BODY_SLICE_OCTETS, CrlfNormalizer, type MessageSource } from './body.js';
export { parseCapabilities, type SmtpCapabilities } from './capabilities.js';
export { connectSmtp, SmtpClient } from './client.js';
export type { NotifyValue } from './commands.js';
export { replyText, SmtpClientError, type SmtpClientErrorCode, type SmtpClientStage } from './errors.js';
export {
  type AuthOptions,
  DEFAULT_CLIENT_TIMEOUTS,
  type Envelope,
  type RecipientResult,
  type RecipientSpec,
  type SendResult,
  type SmtpClientOptions,
  type SmtpClientTimeouts,
  type SmtpTlsMode,
} from './options.js';
export { CLIENT_MAX_REPLY_LINE, CLIENT_MAX_REPLY_LINES } from './transport.js';

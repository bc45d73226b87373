/**
 * The user agent: accounts, compose and submit (SMTP client), download (POP3 client) into a
 * local Maildir, read, reply, forward, search. Used by the `posthorn` CLI; what the webmail
 * shares with it (reply/forward building, a message's readable text) lives in the MIME engine, as
 * no app imports another. Never imports the store or the mta; mailboxes are reached through
 * MailSource.
 */
export {
  type Account,
  AccountBook,
  checkAccountName,
  type Endpoint,
  PASSWORD_COMMAND_TIMEOUT_MS,
  parseEndpoint,
  UaError,
  type UaTls,
} from './accounts.js';
export { forwardOptions, replyOptions } from './compose.js';
export {
  accountStorage,
  connectPop3,
  type FetchOptions,
  type FetchProgress,
  type FetchSummary,
  fetchMail,
  UidMemory,
} from './fetch.js';
export { type DeliverOptions, INBOX, Maildir, type PendingMessage } from './maildir.js';
export { mdnOptions, receiptRequestedBy } from './mdn.js';
export { envelopeRecipients, type OutgoingOptions, parseNotify, prepare, sendComposed } from './outbox.js';
export { configDir, dataDir } from './paths.js';
export { type ProbeResult, probeAccount } from './probe.js';
export { attachmentName, renderMessage, safeFileName, saveAttachments } from './render.js';
export {
  connectSmtp,
  type RefusedRecipient,
  SENT,
  SendError,
  type SubmitOptions,
  type SubmitResult,
  smtpTls,
  submit,
} from './send.js';
export { type MailEntry, type MailFlag, type MailSource, pick, type WritableMailSource } from './source.js';
export {
  bodyText,
  flagText,
  inboxTable,
  type MessageSummary,
  mailboxText,
  matches,
  shortDate,
  summarize,
} from './summary.js';
export { type Column, fit, humanSize, renderTable, sanitize } from './table.js';

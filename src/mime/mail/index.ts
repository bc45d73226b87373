/**
 * Mail layer of the MIME engine: addresses, dates, message ids, the streaming parser and reader,
 * the composer, and replies/forwards built from a parsed original.
 */
export * from './address.js';
export { bodyText, mailboxListText } from './body-text.js';
export {
  type AddressInput,
  type ComposeAttachment,
  ComposeError,
  type ComposeOptions,
  chooseTextEncoding,
  composeMessage,
  composeMessageToBuffer,
  MAX_LINE_OCTETS,
  PREFERRED_LINE_LENGTH,
} from './composer.js';
export * from './date.js';
export * from './message-id.js';
export {
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_PARTS,
  MAX_KEPT_PREAMBLE,
  MimeParser,
  type MimeParserOptions,
} from './parser.js';
export type { MimePart } from './part.js';
export {
  type Attachment,
  decodeText,
  decodeTextAsync,
  MAX_SLICE,
  MAX_SYNC_MS,
  MIN_SLICE,
  type MimeInput,
  type ParsedMessage,
  type ParseMessageOptions,
  parseMessage,
  parseMime,
  partText,
  readMessage,
  SYNC_TEXT_BYTES,
  TARGET_SLICE_MS,
} from './reader.js';
export {
  buildForward,
  buildReply,
  type ForwardInput,
  forwardSubject,
  quoteText,
  replyRecipients,
  replySubject,
  threadReferences,
} from './reply.js';

/**
 * Outbound mail: the queue runner, routing (routes, smarthost, MX, implicit MX, null MX), the SMTP
 * delivery of one destination, 8BITMIME downgrade, delivery status notifications (RFC 3464), SRS
 * for forwarding, and DKIM signing.
 */

export { type DeliverContext, deliverGroup, type RecipientOutcome } from './deliver.js';
export {
  DEFAULT_DKIM_SELECTOR,
  type DkimKey,
  dkimSignature,
  dkimTxtRecord,
  ensureDkimKey,
  isValidDkimSelector,
  loadDkimKey,
  loadDkimKeys,
} from './dkim.js';
export { DowngradeError, downgradeTo7bit, has8bit } from './downgrade.js';
export {
  buildDsn,
  type DsnAction,
  type DsnInput,
  type DsnRecipient,
  headerSafe,
  withoutReturnPath,
} from './dsn.js';
export {
  backoffMs,
  DEFAULT_RETRY,
  DEFAULT_RUNNER_LIMITS,
  type RetryPolicy,
  type RunnerLimits,
} from './policy.js';
export { type PostOptions, type PostOutcome, postNotice } from './post.js';
export {
  type Hop,
  MAX_MX_HOSTS,
  parseHostPort,
  type RelayHost,
  type RouteResult,
  type RoutingConfig,
  route,
} from './routing.js';
export { QueueRunner, type QueueRunnerOptions } from './runner.js';
export { MAX_SRS_AGE_DAYS, srsForward, srsReverse } from './srs.js';

/**
 * The web interface: the JSON API (sessions, CSRF, mail, send, admin, events) and the built
 * webmail it serves, and the record of recent SMTP/POP3 sessions its admin console shows. See
 * server.ts for the security model.
 */
export { attachmentDisposition } from './content-disposition.js';
export { WEB_LIMITS, type WebLimits } from './context.js';
export { LOGIN_LIMIT_DEFAULTS, LoginLimiter, type LoginLimitOptions } from './login-limit.js';
export { type MessageSummary, SUMMARY_CACHE_ENTRIES } from './messages.js';
export { createWebServer, type WebServer, type WebServerOptions } from './server.js';
export {
  SESSION_TRACE_LIMITS,
  type SessionSummary,
  SessionTrace,
  type SessionTraceLimits,
  type TracedLine,
  type TracedSession,
  type TraceUpdate,
} from './session-trace.js';
export { SESSION_COOKIE, SESSION_DEFAULTS, type SessionLimits, SessionTable } from './sessions.js';

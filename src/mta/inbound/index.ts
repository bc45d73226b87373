export * from './pop3-backend.js';
export * from './recipients.js';
export * from './smtp-backend.js';
export * from './submission.js';
export * from './trace.js';

export * from './conn.js';
export * from './dns.js';
export * from './live-set.js';
export * from './logger.js';
export * from './trace.js';

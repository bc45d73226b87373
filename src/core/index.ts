export * from './conn.js';
export * from './logger.js';
export * from './dns.js';

export * from './auth/index.js';
export * from './inbound/index.js';

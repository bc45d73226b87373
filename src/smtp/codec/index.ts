export * from './capabilities.js';
export * from './command.js';
export * from './limits.js';
export * from './path.js';
export * from './reply.js';

export * from './backend.js';
export * from './body.js';
export * from './channel.js';
export * from './connection.js';
export * from './options.js';
export * from './server.js';

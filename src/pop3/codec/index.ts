export * from './command.js';
export * from './dot-stuff.js';
export * from './response.js';

export * from './dot-decoder.js';
export * from './dot-stuffer.js';
export * from './line-splitter.js';
export * from './sasl.js';
export * from './xtext.js';

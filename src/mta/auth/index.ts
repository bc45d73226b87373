export * from './authenticator.js';
export * from './password.js';

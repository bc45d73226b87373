export * from './backend.js';
export * from './login-delay.js';
export * from './options.js';
export { Pop3Server } from './server.js';
export { loopbackTrusted } from './session.js';

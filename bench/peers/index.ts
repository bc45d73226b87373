/**
 * The benchmarks' peers and load generators: private instances of Postfix, smtp-sink, Haraka
 * and Dovecot on ephemeral 127.0.0.1 ports, Posthorn through its CLI, smtp-source and a poplib
 * client as the load, and /proc readings of CPU and memory. Everything started here is stopped
 * by `cleanupAll()`.
 */
export { startDovecot } from './dovecot.js';
export { startHaraka } from './haraka.js';
export { holdIdleConnections } from './idle-conns.js';
export { makeMessage, toLf } from './messages.js';
export { poplibRetrieveAll, poplibStat } from './poplib-client.js';
export { startPostfix, startSmtpSink } from './postfix.js';
export { posthornAvailable, startPosthorn } from './posthorn.js';
export * from './proc.js';
export { mb, rate, ratio, table } from './report.js';
export { smtpSendAll } from './smtp-send.js';
export { smtpSource } from './smtp-source.js';

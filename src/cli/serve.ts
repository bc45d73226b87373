/** `posthorn serve`: load the config, start everything, stop cleanly on SIGTERM/SIGINT. */
import type { Command } from 'commander';
import { ConfigError, loadConfig, type ServeFlags } from '../config/index.js';
import type { RunningServer } from '../server/server.js';
import { CliError } from './io.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the mail server (SMTP, submission, POP3)')
    .option('-c, --config <file>', 'TOML config file (or $POSTHORN_CONFIG)')
    .option('--data <dir>', 'data directory (default ./data or $POSTHORN_DATA)')
    .option('--store <url>', 'store URL: sqlite:PATH (default, in the data dir)')
    .option('--hostname <name>', 'name in the greeting and Received headers')
    .option('--smtp <addr>', 'SMTP (MX) listener, host:port or off (default 0.0.0.0:25)')
    .option('--submission <addr>', 'submission listener with STARTTLS+AUTH (default 0.0.0.0:587)')
    .option('--smtps <addr>', 'submission over implicit TLS (default 0.0.0.0:465)')
    .option('--pop3 <addr>', 'POP3 listener (default 0.0.0.0:110)')
    .option('--pop3s <addr>', 'POP3 over implicit TLS (default 0.0.0.0:995)')
    .option('--web <addr>', 'webmail and admin console (default 0.0.0.0:8080)')
    .option('--tls-cert <file>', 'certificate (PEM); self-signed in the data dir when absent')
    .option('--tls-key <file>', 'private key (PEM)')
    .option('--log-level <level>', 'trace, debug, info, warn, error')
    .option(
      '--route <domain=host:port>',
      'static route for a domain (repeatable; adds to [routes])',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--smarthost <host:port>', 'relay all outbound mail through this host')
    .option('--demo', 'the course demo: loopback only, domain uu.ac.kr, user kihyun (password kihyun0)')
    .action(async (flags: ServeFlags) => {
      let config: ReturnType<typeof loadConfig>;
      try {
        config = loadConfig(flags);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, 2);
        throw err;
      }
      (await import('../server/gc-tuning.js')).tuneGarbageCollector();
      // Loaded here, not at the top: every other command starts faster without the server stack.
      const { createLogger } = await import('../server/logger.js');
      const { StartupError, startServer } = await import('../server/server.js');
      const logger = createLogger(config.log.level);
      let server: RunningServer;
      try {
        server = await startServer(config, logger);
      } catch (err) {
        if (err instanceof StartupError) throw new CliError(err.message, 1);
        throw err;
      }
      logger.info({ hostname: config.hostname, data: config.dataDir }, 'Posthorn is running');
      let signals = 0;
      const onSignal = (sig: string) => {
        if (++signals > 1) process.exit(1);
        logger.info({ signal: sig }, 'stopping');
        server.stop().then(
          () => setTimeout(() => process.exit(0), 50),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
    });
}

#!/usr/bin/env node
/** The `posthorn` command: parses arguments and prints; the work happens in the other folders. */
import { Command, CommanderError } from 'commander';
import { registerAdminCommands } from './admin.js';
import { CliError } from './io.js';
import { registerMimeCommands } from './mime.js';
import { registerOutboundCommands } from './outbound.js';
import { registerServeCommand } from './serve.js';
import { registerStoreCommands } from './store.js';
import { registerUaCommands } from './ua.js';

const program = new Command('posthorn')
  .description('Posthorn: a complete, self-hostable e-mail system')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerServeCommand(program);
registerAdminCommands(program);
registerOutboundCommands(program);
registerMimeCommands(program);
registerUaCommands(program);
registerStoreCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof CliError) {
    process.stderr.write(`posthorn: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`posthorn: internal error: ${(err as Error).message ?? err}\n`);
  if (process.env.POSTHORN_DEBUG) console.error(err);
  process.exit(70);
}

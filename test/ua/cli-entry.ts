/**
 * Test-only entry point: a `posthorn` program with just the user-agent commands, so the UA can be
 * tested end to end before (and independently of) its wiring into src/cli/main.ts.
 */
import { Command, CommanderError } from 'commander';
import { CliError } from '../../src/cli/io.js';
import { registerUaCommands } from '../../src/cli/ua.js';

const program = new Command('posthorn').exitOverride();
registerUaCommands(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof CliError) {
    process.stderr.write(`posthorn: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`posthorn: internal error: ${(err as Error).stack ?? err}\n`);
  process.exit(70);
}

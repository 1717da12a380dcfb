import { Command, CommanderError, Option } from 'commander';
import { registerDefinitionCommands } from './commands/definitions.ts';
import { registerDlqCommands } from './commands/dlq.ts';
import { registerLookCommands } from './commands/look.ts';
import { registerOutboxCommands } from './commands/outbox.ts';
import { registerScheduleCommands } from './commands/schedule.ts';
import { registerTailCommands } from './commands/tail.ts';
import { registerTryCommands } from './commands/try.ts';
import { type CommandContext, createContext } from './context.ts';
import { CliError, ExitCode } from './errors.ts';
import { type Io, OUTPUT_FORMATS, type OutputFormat, paint } from './output.ts';

export const VERSION = '0.1.0';

const EXIT_CODES = `
Environment:
  AC_API_URL    the API's tRPC endpoint (default http://127.0.0.1:3000/trpc)
  AC_API_TOKEN  a bearer token; in a checkout, \`npm start\`'s token is found without it
  NO_COLOR      no colours

Exit codes:
  0  done (diff: no changes)     4  wrong command line
  1  failure (API, network)      5  no token, a bad one, or too weak a scope
  2  diff: there are changes     6  not found
  3  invalid input, nothing written`;

/**
 * Runs `activity-core` with `argv` (without node and the script) and resolves with the exit
 * code; nothing here calls `process.exit`, so tests can run it in-process too.
 */
export async function runCli(
  argv: readonly string[],
  io: Io,
  env: Record<string, string | undefined> = process.env,
  cwd = process.cwd(),
): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = new Command('activity-core')
    .description('Operate activity-core: definitions as code, runs, dead letters, the outbox, schedules, backtests.')
    .version(VERSION, '-V, --version')
    .addOption(new Option('--url <url>', "the API's tRPC endpoint (AC_API_URL)"))
    .addOption(new Option('--token <token>', 'bearer token (AC_API_TOKEN)'))
    .addOption(new Option('-o, --output <format>', 'table, json or yaml').choices(OUTPUT_FORMATS).default('table'))
    .addHelpText('after', EXIT_CODES)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out.write(s),
      writeErr: (s) => io.err.write(s),
    });

  const run = async (fn: (ctx: CommandContext) => Promise<number>): Promise<void> => {
    const opts = program.opts<{ url?: string; token?: string; output: OutputFormat }>();
    exitCode = await fn(createContext(io, opts.output, { url: opts.url, token: opts.token }, env, cwd));
  };
  registerDefinitionCommands(program, run);
  registerLookCommands(program, run);
  registerTailCommands(program, run);
  registerDlqCommands(program, run);
  registerOutboxCommands(program, run);
  registerScheduleCommands(program, run);
  registerTryCommands(program, run);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with code 0.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (error instanceof CliError) {
      io.err.write(`${paint(io, 'red', 'error:', 'err')} ${error.message}\n`);
      for (const line of error.details) io.err.write(`  ${line}\n`);
      return error.exitCode;
    }
    io.err.write(`${paint(io, 'red', 'error:', 'err')} ${error instanceof Error ? error.message : String(error)}\n`);
    return ExitCode.failure;
  }
}

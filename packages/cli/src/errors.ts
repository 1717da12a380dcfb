/**
 * Exit codes of `activity-core`, part of its contract (README, "Operator CLI").
 * `changes` is only used by `diff`, like `terraform plan -detailed-exitcode`.
 */
export const ExitCode = {
  ok: 0,
  /** The API failed or could not be reached, or a run of the command went wrong. */
  failure: 1,
  /** `diff`: there are changes to apply. */
  changes: 2,
  /** Invalid input: a definition file, an event, a field the API refused. Nothing was written. */
  invalid: 3,
  /** Wrong command line: unknown command or option, missing argument. */
  usage: 4,
  /** No token, a bad token, or one without the scope the command needs. */
  auth: 5,
  /** Something named does not exist (a definition key, a dead letter, a run). */
  notFound: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports as it is (no stack) and exits with `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: ExitCode;
  /** Extra lines printed under the message (field errors…). */
  readonly details: readonly string[];
  constructor(message: string, exitCode: ExitCode, details: readonly string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
    this.details = details;
  }
}

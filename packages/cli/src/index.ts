export { ExitCode } from './errors.ts';
export type { Io, OutputFormat } from './output.ts';
export { runCli, VERSION } from './program.ts';

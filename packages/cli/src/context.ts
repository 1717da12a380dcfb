import { type ActivityCoreClient, apiClient, toCliError } from './api.ts';
import { type Connection, type ConnectionFlags, resolveConnection } from './connection.ts';
import { CliError, ExitCode } from './errors.ts';
import type { Io, OutputFormat } from './output.ts';

/** What every command gets: where to write, how, and (on first use) the API. */
export interface CommandContext {
  readonly io: Io;
  readonly format: OutputFormat;
  readonly env: Record<string, string | undefined>;
  readonly cwd: string;
  connection(): Connection;
  client(): ActivityCoreClient;
  /** Runs an API call, turning its failure into the matching CliError. */
  call<T>(fn: (client: ActivityCoreClient) => Promise<T>): Promise<T>;
}

export function createContext(
  io: Io,
  format: OutputFormat,
  flags: ConnectionFlags,
  env: Record<string, string | undefined>,
  cwd: string,
): CommandContext {
  let connection: Connection | undefined;
  let client: ActivityCoreClient | undefined;
  const ctx: CommandContext = {
    io,
    format,
    env,
    cwd,
    connection: () => {
      connection ??= resolveConnection(flags, env, cwd);
      return connection;
    },
    client: () => {
      client ??= apiClient(ctx.connection());
      return client;
    },
    async call(fn) {
      try {
        return await fn(ctx.client());
      } catch (error) {
        throw toCliError(error, ctx.connection());
      }
    },
  };
  return ctx;
}

type Definition = Awaited<ReturnType<ActivityCoreClient['definitions']['get']['query']>>;

/** The definition with this key (live or archived), or a not-found error naming the key. */
export async function definitionByKey(ctx: CommandContext, key: string): Promise<Definition> {
  let cursor: string | null = null;
  do {
    const page: { items: Definition[]; nextCursor: string | null } = await ctx.call((c) =>
      c.definitions.list.query({ keyPrefix: key, archived: 'any', limit: 500, cursor }),
    );
    const found = page.items.find((d) => d.key === key);
    if (found) return found;
    cursor = page.nextCursor;
  } while (cursor);
  throw new CliError(`no definition with the key "${key}"`, ExitCode.notFound);
}

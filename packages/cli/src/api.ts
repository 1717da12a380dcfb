// The client's tRPC half only: the package root also loads the NATS publisher and, through it,
// the core domain, which would triple the CLI's start-up time.
import { type ActivityCoreClient, createActivityCoreClient } from '@activity-core/client/api-client';
import { TRPCClientError } from '@trpc/client';
import type { Connection } from './connection.ts';
import { CliError, ExitCode } from './errors.ts';

export type { ActivityCoreClient };

/** The typed client; queries go as POST, since whole definitions travel in some of them. */
export function apiClient(connection: Connection): ActivityCoreClient {
  return createActivityCoreClient({ url: connection.url, token: connection.token, methodOverride: 'POST' });
}

interface ErrorData {
  code?: string;
  fieldErrors?: Array<{ path: string; message: string }> | null;
  correlationId?: string | null;
}

/** An API or network failure as a CliError with the matching exit code and the field errors. */
export function toCliError(error: unknown, connection: Connection): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof TRPCClientError) {
    const data = (error.data ?? {}) as ErrorData;
    const fields = (data.fieldErrors ?? []).map((f) => `${f.path || '(input)'}: ${f.message}`);
    switch (data.code) {
      case 'UNAUTHORIZED':
        return new CliError(`the API refused the token from ${connection.tokenSource}`, ExitCode.auth, [], {
          cause: error,
        });
      case 'FORBIDDEN':
        return new CliError(error.message, ExitCode.auth, [], { cause: error });
      case 'NOT_FOUND':
        return new CliError(error.message, ExitCode.notFound, [], { cause: error });
      case 'BAD_REQUEST':
        return new CliError(
          'the API refused the input',
          ExitCode.invalid,
          fields.length > 0 ? fields : [error.message],
          {
            cause: error,
          },
        );
      case undefined:
        // No tRPC error body: the request did not reach the API.
        return new CliError(`cannot reach the API at ${connection.url}: ${error.message}`, ExitCode.failure, [], {
          cause: error,
        });
      default:
        return new CliError(error.message, ExitCode.failure, [], { cause: error });
    }
  }
  return new CliError(error instanceof Error ? error.message : String(error), ExitCode.failure, [], { cause: error });
}

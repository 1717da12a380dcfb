import { StackError } from './errors.ts';
import { type RunningStack, type StackOptions, startStack } from './stack.ts';
import { startContainerStack } from './testcontainers.ts';

export const StackProviders = ['embedded', 'testcontainers'] as const;
export type StackProvider = (typeof StackProviders)[number];

/** Reads `AC_STACK_PROVIDER` (default `embedded`). */
export function stackProvider(env: Record<string, string | undefined> = process.env): StackProvider {
  const value = env.AC_STACK_PROVIDER ?? 'embedded';
  if ((StackProviders as readonly string[]).includes(value)) return value as StackProvider;
  throw new StackError(
    'config_invalid',
    `AC_STACK_PROVIDER must be one of ${StackProviders.join(', ')}; got "${value}"`,
  );
}

/** Starts the stack with the provider the environment selects. */
export async function startSelectedStack(
  options: StackOptions,
  env: Record<string, string | undefined> = process.env,
): Promise<RunningStack> {
  const provider = stackProvider(env);
  switch (provider) {
    case 'embedded':
      return startStack(options);
    case 'testcontainers':
      return startContainerStack();
    default: {
      const never: never = provider;
      throw new StackError('config_invalid', `unknown provider ${String(never)}`);
    }
  }
}

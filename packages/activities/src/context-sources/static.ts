import type { SourceResolver } from './source-resolver.ts';

/** `static`: the value as authored in the definition. */
export const resolveStaticSource: SourceResolver<'static'> = async (source) => ({ value: source.value ?? null });

import { z } from 'zod';
import { EventWindow } from './event-window.ts';
import { matchesTypePattern, typePatternError } from './type-patterns.ts';

export { matchesSourcePattern, matchesTypePattern, typePatternError } from './type-patterns.ts';

/**
 * Which events start a run: envelope `type` patterns on dot tokens (`order.created` exact,
 * `order.*` one token, `order.>` one or more trailing tokens), an optional `source` glob
 * (`*` matches any run of characters), and an optional CEL `filter` over `event`. With a
 * `window`, the matching events of one key share one run per window instead of one run each.
 */
export const EventTriggerConfig = z
  .object({
    types: z
      .array(
        z.string().superRefine((pattern, ctx) => {
          const error = typePatternError(pattern);
          if (error) ctx.addIssue({ code: 'custom', message: error });
        }),
      )
      .min(1, 'at least one type pattern is required')
      .max(32),
    source: z.string().min(1).max(512).optional().describe('glob on the event source; "*" matches any characters'),
    filter: z.string().min(1).max(4096).optional().describe('CEL over `event`, must yield a bool'),
    window: EventWindow.optional().describe(
      'group matching events by key into one run per window (debounce, batch, allOf); see event-window.ts',
    ),
  })
  .superRefine((trigger, ctx) => {
    if (trigger.window?.mode !== 'allOf') return;
    trigger.window.types.forEach((type, i) => {
      // A plain type no trigger pattern accepts could never join: the window would always expire.
      if (!type.includes('*') && !type.includes('>') && !trigger.types.some((p) => matchesTypePattern(p, type))) {
        ctx.addIssue({
          code: 'custom',
          path: ['window', 'types', i],
          message: `"${type}" is not matched by any of trigger types ${trigger.types.join(', ')}`,
        });
      }
    });
  });
export type EventTriggerConfig = z.infer<typeof EventTriggerConfig>;

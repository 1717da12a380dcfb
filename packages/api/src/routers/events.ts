import { EventEnvelope } from '@activity-core/core';
import { z } from 'zod';
import { invalidInput } from '../errors.ts';
import { assertBoundedValue, limitsOf } from '../inputs.ts';
import { activeTraceparent } from '../tracing.ts';
import { adminProcedure, router, writeProcedure } from '../trpc.ts';
import { isSubjectFilter, SUBJECT_TOKENS, SubjectFilterMessage } from './subjects.ts';

const PublishInput = EventEnvelope.omit({ delivery: true }).superRefine((e, ctx) => {
  const tokens = e.type.split('.');
  if (e.type.length > 255 || tokens.some((t) => t === '' || t === '*' || t === '>' || !SUBJECT_TOKENS.test(t))) {
    ctx.addIssue({
      code: 'custom',
      path: ['type'],
      message: 'expected dot-separated tokens of printable ASCII, no spaces, "*" or ">" (it becomes the subject)',
    });
  }
  if (e.id.length > 512) ctx.addIssue({ code: 'custom', path: ['id'], message: 'at most 512 characters' });
});

const encoder = new TextEncoder();

export const eventsRouter = router({
  /**
   * Publishes a CloudEvent to `AC_EVENTS` on `events.<type>`, structured JSON mode, with
   * `Nats-Msg-Id` = the event id (JetStream drops a repeat within its duplicate window).
   * What ingest would dead-letter is refused here instead: attributes with control characters,
   * a `time` that is not strict RFC 3339, data beyond the input limits or not storable.
   * With tracing on, an event without a `traceparent` gets the procedure span's (CloudEvents'
   * distributed-tracing extension), so ingest's run of it continues the caller's trace.
   */
  publish: writeProcedure
    .input(PublishInput)
    .mutation(async ({ ctx, input }): Promise<{ subject: string; stream: string; seq: number; duplicate: boolean }> => {
      // The rule ingest dead-letters by (payload_too_deep, payload_too_large, unsupported_payload).
      assertBoundedValue(input.data, ['data'], limitsOf(ctx.deps).input);
      const subject = `${ctx.deps.topology.events.subjectPrefix}${input.type}`;
      // Only with the API's own tracing on, and only into an event with no trace context at all
      // (a `tracestate` belongs to its own `traceparent`).
      const traceparent =
        ctx.deps.tracer !== undefined && input.traceparent === undefined && input.tracestate === undefined
          ? activeTraceparent()
          : undefined;
      const body = encoder.encode(JSON.stringify(traceparent === undefined ? input : { ...input, traceparent }));
      if (body.byteLength > ctx.deps.maxPayloadBytes()) {
        invalidInput([{ path: 'data', message: `the event is larger than ${ctx.deps.maxPayloadBytes()} bytes` }]);
      }
      const ack = await ctx.deps.publish(subject, body, {
        msgID: input.id,
        headers: { 'content-type': 'application/cloudevents+json' },
      });
      return { subject, ...ack };
    }),

  /** Moves dead letters from `AC_DLQ` back to `AC_EVENTS` (ingest's redrive), oldest first. */
  redrive: adminProcedure
    .input(
      z.object({
        /** Only dead letters of this original subject (NATS wildcards allowed), e.g. `events.order.>`. */
        subject: z.string().max(255).refine(isSubjectFilter, SubjectFilterMessage).optional(),
        /** Only dead letters with this reason code, e.g. `max_depth`, `invalid_json`. */
        reason: z
          .string()
          .regex(/^[a-z0-9_]{1,64}$/, 'a reason code such as max_depth')
          .optional(),
        limit: z.number().int().min(1).max(10_000).default(100),
        /** Only dead letters in this DLQ sequence range (inclusive), e.g. one batch of a listing. */
        fromSeq: z.number().int().min(1).optional(),
        toSeq: z.number().int().min(1).optional(),
      }),
    )
    .mutation(({ ctx, input }) =>
      ctx.deps.redriveDeadLetters({
        limit: input.limit,
        ...(input.subject !== undefined ? { subject: input.subject } : {}),
        ...(input.reason !== undefined ? { reason: input.reason } : {}),
        ...(input.fromSeq !== undefined ? { fromSeq: input.fromSeq } : {}),
        ...(input.toSeq !== undefined ? { toSeq: input.toSeq } : {}),
      }),
    ),
});

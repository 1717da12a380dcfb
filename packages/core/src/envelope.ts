import { z } from 'zod';

export { eventKey } from './event-key.ts';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Why `text` is not a strict RFC 3339 `date-time` (section 5.6), or undefined when it is: full
 * date, `T` (or `t`), full time with optional fraction, and `Z` (or `z`) or a `±hh:mm` offset.
 * Calendar checks are real (`2026-02-30` is refused; February 29 only in leap years). A leap
 * second (`:60`) is refused: neither JavaScript's `Date` nor PostgreSQL can represent it, so
 * accepting it would silently move the time.
 */
export function rfc3339Problem(text: string): string | undefined {
  const m = RFC3339.exec(text);
  if (!m) return 'expected an RFC 3339 timestamp, e.g. 2024-05-01T12:00:00Z';
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12) return `month ${m[2]} does not exist`;
  if (day < 1 || day > daysInMonth(year, month)) return `${m[1]}-${m[2]} has no day ${m[3]}`;
  if (hour > 23 || minute > 59) return `${m[4]}:${m[5]} is not a time of day`;
  if (second === 60) return 'leap seconds (:60) are not accepted';
  if (second > 59) return `second ${m[6]} does not exist`;
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return `offset ${m[7]}:${m[8]} is out of range`;
  return undefined;
}

/** A strict RFC 3339 timestamp, see {@link rfc3339Problem}; the only timestamp rule of activity-core. */
export const Rfc3339 = z.string().superRefine((text, ctx) => {
  const problem = rfc3339Problem(text);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/** Timestamps of rows written before the strict rule; only for reading them back. */
const StoredTimestamp = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i, 'expected an RFC 3339 timestamp')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'expected a real calendar date and time');

/**
 * Why `text` may not be a CloudEvents String attribute value, or undefined when it may. The
 * CloudEvents type system forbids the control characters U+0000–U+001F and U+007F–U+009F,
 * surrogate code points (an unpaired UTF-16 surrogate) and Unicode noncharacters.
 */
export function cloudEventStringProblem(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      return `contains the control character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
    }
    if (c >= 0xd800 && c <= 0xdbff) {
      const low = text.charCodeAt(i + 1);
      if (!(low >= 0xdc00 && low <= 0xdfff)) return 'contains an unpaired UTF-16 surrogate';
      // Supplementary noncharacters: U+1FFFE, U+1FFFF, … U+10FFFF (low surrogate DFFE or DFFF).
      if ((low === 0xdffe || low === 0xdfff) && (c & 0x3f) === 0x3f) return 'contains a Unicode noncharacter';
      i++;
      continue;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return 'contains an unpaired UTF-16 surrogate';
    if ((c >= 0xfdd0 && c <= 0xfdef) || c === 0xfffe || c === 0xffff) return 'contains a Unicode noncharacter';
  }
  return undefined;
}

/** A CloudEvents String: no control characters, surrogates or noncharacters. */
const CloudEventString = z.string().superRefine((text, ctx) => {
  const problem = cloudEventStringProblem(text);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/** Where and how ingest received the message: JetStream stream, sequence and redelivery count. */
export const DeliveryInfo = z.object({
  stream: z.string(),
  sequence: z.number().int().nonnegative(),
  subject: z.string(),
  receivedAt: Rfc3339,
  deliveryCount: z.number().int().positive(),
});
export type DeliveryInfo = z.infer<typeof DeliveryInfo>;

/** Names the CloudEvents spec reserves for extension attributes: lower-case ASCII letters and digits. */
export const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;

function envelopeSchema(text: z.ZodString | typeof CloudEventString, time: z.ZodType<string>) {
  return z.object({
    specversion: z.literal('1.0'),
    id: text.min(1),
    source: text.min(1),
    type: text.min(1),
    time: time.optional(),
    subject: text.optional(),
    datacontenttype: text.min(1).optional(),
    dataschema: text.min(1).optional(),
    data: z.unknown().optional(),
    data_base64: text.optional(),
    traceparent: text.optional(),
    tracestate: text.optional(),
    correlationid: text.min(1).optional(),
    causationid: text.min(1).optional(),
    causationdepth: z.number().int().nonnegative().default(0),
    extensions: z.record(z.string().regex(EXTENSION_NAME), z.union([text, z.number(), z.boolean()])).optional(),
    delivery: DeliveryInfo.optional(),
  });
}

/**
 * The normalized form of every event activity-core handles: CloudEvents 1.0 context
 * attributes, the extensions activity-core understands (W3C trace context, correlation,
 * causation and its depth), other extensions verbatim, and delivery metadata. String
 * attributes are CloudEvents Strings ({@link cloudEventStringProblem}) and `time` is strict
 * RFC 3339 ({@link rfc3339Problem}).
 *
 * `data` holds the decoded JSON value (or a string for `text/*`); binary payloads that are
 * neither are kept base64-encoded in `data_base64`, as in the CloudEvents JSON format.
 */
export const EventEnvelope = envelopeSchema(CloudEventString, Rfc3339);
export type EventEnvelope = z.infer<typeof EventEnvelope>;

/**
 * {@link EventEnvelope} as rows written before the strict attribute and timestamp rules may
 * hold it: for reading stored events back (a run of such an event stays readable), never for
 * accepting new ones.
 */
export const StoredEventEnvelope: z.ZodType<EventEnvelope> = envelopeSchema(z.string(), StoredTimestamp);

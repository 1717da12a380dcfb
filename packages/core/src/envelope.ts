import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** A CloudEvents timestamp (RFC 3339). */
export const Rfc3339 = z
  .string()
  .regex(RFC3339, 'expected an RFC 3339 timestamp, e.g. 2024-05-01T12:00:00Z')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'expected a real calendar date and time');

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

/** A CloudEvents extension value as it survives both JSON and header transport. */
export const ExtensionValue = z.union([z.string(), z.number(), z.boolean()]);

/**
 * The normalized form of every event activity-core handles: CloudEvents 1.0 context
 * attributes, the extensions activity-core understands (W3C trace context, correlation,
 * causation and its depth), other extensions verbatim, and delivery metadata.
 *
 * `data` holds the decoded JSON value (or a string for `text/*`); binary payloads that are
 * neither are kept base64-encoded in `data_base64`, as in the CloudEvents JSON format.
 */
export const EventEnvelope = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().min(1),
  time: Rfc3339.optional(),
  subject: z.string().optional(),
  datacontenttype: z.string().min(1).optional(),
  dataschema: z.string().min(1).optional(),
  data: z.unknown().optional(),
  data_base64: z.string().optional(),
  traceparent: z.string().optional(),
  tracestate: z.string().optional(),
  correlationid: z.string().min(1).optional(),
  causationid: z.string().min(1).optional(),
  causationdepth: z.number().int().nonnegative().default(0),
  extensions: z.record(z.string().regex(EXTENSION_NAME), ExtensionValue).optional(),
  delivery: DeliveryInfo.optional(),
});
export type EventEnvelope = z.infer<typeof EventEnvelope>;

/**
 * The CloudEvents identity of an event as a 64-char hex SHA-256 of `(source, id)`.
 * Two deliveries of the same event have the same key, whatever their transport form.
 *
 * @example eventKey({ source: 'urn:shop', id: 'order-1', ... }) // 'a3f1…'
 */
export function eventKey(envelope: Pick<EventEnvelope, 'source' | 'id'>): string {
  // JSON encoding keeps the pair unambiguous whatever characters either part holds.
  return bytesToHex(sha256(utf8ToBytes(JSON.stringify([envelope.source, envelope.id]))));
}

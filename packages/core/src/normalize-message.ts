import { bytesToBase64, decodeUtf8 } from './bytes.ts';
import { DEFAULT_INPUT_LIMITS, type InputLimits } from './cel-limits.ts';
import { EventEnvelope, EXTENSION_NAME, rfc3339Problem } from './envelope.ts';
import { inspectJson, type JsonProblemKind } from './input-limits.ts';

/** Why a message could not be turned into an {@link EventEnvelope}; ingest puts it in the DLQ headers. */
export const NormalizeErrorCode = {
  invalidJson: 'invalid_json',
  invalidEncoding: 'invalid_encoding',
  missingAttribute: 'missing_attribute',
  invalidAttribute: 'invalid_attribute',
  unsupportedSpecversion: 'unsupported_specversion',
  payloadTooLarge: 'payload_too_large',
  payloadTooDeep: 'payload_too_deep',
  unsupportedPayload: 'unsupported_payload',
  unsupportedContentType: 'unsupported_content_type',
  internalError: 'internal_error',
} as const;
export type NormalizeErrorCode = (typeof NormalizeErrorCode)[keyof typeof NormalizeErrorCode];

export interface NormalizeError {
  code: NormalizeErrorCode;
  field?: string;
  message: string;
}

/** The transport-neutral view of a NATS message (what ingest hands in). */
export interface RawMessage {
  subject: string;
  /** Header names are matched case-insensitively; for repeated headers the first value counts. */
  headers?: Readonly<Record<string, readonly string[] | string | undefined>>;
  data: Uint8Array;
  info?: { stream: string; streamSequence: number; deliveryCount: number; receivedAt: string };
}

export interface NormalizeOptions {
  /** `source` given to plain JSON messages, e.g. `urn:activity-core:nats`. */
  defaultSource: string;
  maxPayloadBytes: number;
  /** Subject prefix removed to get the `type` of a plain JSON message. Default `events.`. */
  subjectPrefix?: string;
  /** Bounds of `data`: nesting depth, elements per list or map, bytes per string. */
  limits?: InputLimits;
}

export type NormalizeResult = { ok: true; envelope: EventEnvelope } | { ok: false; error: NormalizeError };

type Mode = 'structured' | 'binary' | 'plain';

const CORE_ATTRIBUTES = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'subject',
  'datacontenttype',
  'dataschema',
]);
const KNOWN_EXTENSIONS = new Set(['traceparent', 'tracestate', 'correlationid', 'causationid', 'causationdepth']);

class Reject {
  readonly error: NormalizeError;
  constructor(code: NormalizeErrorCode, message: string, field?: string) {
    this.error = field === undefined ? { code, message } : { code, field, message };
  }
}

/**
 * Turns a NATS message into an {@link EventEnvelope}. Never throws.
 *
 * Accepted forms, tried in this order:
 * 1. **binary** CloudEvents: a `ce-specversion` header; attributes in `ce-*` headers
 *    (percent-decoded as the CloudEvents NATS/HTTP bindings require), `content-type` is
 *    `datacontenttype`, the body is the data.
 * 2. **structured** CloudEvents: `content-type: application/cloudevents+json`, or no
 *    content type and a JSON object body with a string `specversion`.
 * 3. **plain JSON**: the body is the data; `type` is the subject after the prefix, `id` the
 *    `Nats-Msg-Id` header or `{stream}:{sequence}`, `source` the configured default and `time`
 *    the time the message was received.
 */
export function normalizeMessage(input: RawMessage, options: NormalizeOptions): NormalizeResult {
  try {
    return { ok: true, envelope: normalizeOrReject(input, options) };
  } catch (e) {
    if (e instanceof Reject) return { ok: false, error: e.error };
    // A bug must not crash ingest: the message goes to the DLQ with this reason.
    return {
      ok: false,
      error: { code: NormalizeErrorCode.internalError, message: e instanceof Error ? e.message : String(e) },
    };
  }
}

function normalizeOrReject(input: RawMessage, options: NormalizeOptions): EventEnvelope {
  if (input.data.byteLength > options.maxPayloadBytes) {
    throw new Reject(
      NormalizeErrorCode.payloadTooLarge,
      `payload is ${input.data.byteLength} bytes, the limit is ${options.maxPayloadBytes}`,
      'data',
    );
  }
  const headers = lowerCaseHeaders(input.headers);
  const contentType = headers.get('content-type');
  const mode = detectMode(headers, contentType, input.data);
  let attributes: Record<string, unknown>;
  switch (mode) {
    case 'binary':
      attributes = fromBinary(headers, contentType, input.data);
      break;
    case 'structured':
      attributes = fromStructured(input.data);
      break;
    case 'plain':
      attributes = fromPlain(input, headers, contentType, options);
      break;
  }
  return finish(attributes, input, options.limits ?? DEFAULT_INPUT_LIMITS);
}

function lowerCaseHeaders(headers: RawMessage['headers']): Map<string, string> {
  const out = new Map<string, string>();
  if (!headers) return out;
  for (const [name, value] of Object.entries(headers)) {
    const first = typeof value === 'string' ? value : Array.isArray(value) ? value[0] : undefined;
    const key = name.toLowerCase();
    if (typeof first === 'string' && !out.has(key)) out.set(key, first);
  }
  return out;
}

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase();
}

function isJsonMediaType(media: string | undefined): boolean {
  return media === undefined || media === 'application/json' || media === 'text/json' || media.endsWith('+json');
}

function detectMode(headers: Map<string, string>, contentType: string | undefined, data: Uint8Array): Mode {
  if (headers.has('ce-specversion')) return 'binary';
  const media = mediaType(contentType);
  if (media === 'application/cloudevents-batch+json') {
    throw new Reject(
      NormalizeErrorCode.unsupportedContentType,
      'batched CloudEvents are not accepted',
      'datacontenttype',
    );
  }
  if (media === 'application/cloudevents+json') return 'structured';
  if (media === undefined || media === 'application/json') {
    // Sniff only for a JSON object that carries a string `specversion` at the top.
    const text = decodeUtf8(data);
    if (text?.trimStart().startsWith('{')) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (isRecord(parsed) && typeof parsed.specversion === 'string') return 'structured';
      } catch {
        // Not JSON: the plain path reports invalid_json with the right field.
      }
    }
  }
  return 'plain';
}

/**
 * Attributes keyed by names from the message: without a prototype, so a `__proto__` or
 * `constructor` attribute is an attribute like any other (and refused as an extension name).
 */
function attributeRecord(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(data: Uint8Array, field: string): unknown {
  const text = decodeUtf8(data);
  if (text === undefined) throw new Reject(NormalizeErrorCode.invalidEncoding, 'body is not valid UTF-8', field);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Reject(
      NormalizeErrorCode.invalidJson,
      `body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
      field,
    );
  }
}

function fromStructured(data: Uint8Array): Record<string, unknown> {
  const parsed = parseJson(data, 'data');
  if (!isRecord(parsed)) {
    throw new Reject(NormalizeErrorCode.invalidJson, 'a structured CloudEvent must be a JSON object', 'data');
  }
  const attributes = Object.assign(attributeRecord(), parsed);
  // In the JSON format, `data` is JSON unless the event says otherwise.
  if ('data' in parsed && parsed.datacontenttype === undefined) attributes.datacontenttype = 'application/json';
  if ('data' in parsed && 'data_base64' in parsed) {
    throw new Reject(NormalizeErrorCode.invalidAttribute, 'data and data_base64 are mutually exclusive', 'data_base64');
  }
  if ('data_base64' in parsed && typeof parsed.data_base64 !== 'string') {
    throw new Reject(NormalizeErrorCode.invalidAttribute, 'data_base64 must be a string', 'data_base64');
  }
  return attributes;
}

/** Percent-decoding of binding header values: `%XX` sequences are UTF-8 bytes. */
function percentDecode(value: string, field: string): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    if (ch === 0x25) {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw new Reject(NormalizeErrorCode.invalidAttribute, `malformed percent-encoding in ${field}`, field);
      }
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (ch < 0x80) {
      bytes.push(ch);
    } else {
      for (const b of new TextEncoder().encode(value[i] ?? '')) bytes.push(b);
    }
  }
  const decoded = decodeUtf8(Uint8Array.from(bytes));
  if (decoded === undefined) {
    throw new Reject(NormalizeErrorCode.invalidAttribute, `percent-encoded ${field} is not valid UTF-8`, field);
  }
  return decoded;
}

function fromBinary(headers: Map<string, string>, contentType: string | undefined, data: Uint8Array) {
  const attributes = attributeRecord();
  for (const [name, raw] of headers) {
    if (!name.startsWith('ce-')) continue;
    const attribute = name.slice(3);
    attributes[attribute] = percentDecode(raw, attribute);
  }
  const declared = contentType ?? (attributes.datacontenttype as string | undefined);
  if (declared !== undefined) attributes.datacontenttype = declared;
  const media = mediaType(declared);
  if (data.byteLength === 0) return attributes;
  if (isJsonMediaType(media)) {
    attributes.data = parseJson(data, 'data');
  } else if (media?.startsWith('text/')) {
    const text = decodeUtf8(data);
    if (text === undefined)
      throw new Reject(NormalizeErrorCode.invalidEncoding, 'text body is not valid UTF-8', 'data');
    attributes.data = text;
  } else {
    attributes.data_base64 = bytesToBase64(data);
  }
  return attributes;
}

function fromPlain(
  input: RawMessage,
  headers: Map<string, string>,
  contentType: string | undefined,
  options: NormalizeOptions,
): Record<string, unknown> {
  const media = mediaType(contentType);
  if (!isJsonMediaType(media)) {
    throw new Reject(
      NormalizeErrorCode.unsupportedContentType,
      `plain messages must be JSON, got content-type ${JSON.stringify(contentType)}`,
      'datacontenttype',
    );
  }
  const data = parseJson(input.data, 'data');
  const prefix = options.subjectPrefix ?? 'events.';
  const type = input.subject.startsWith(prefix) ? input.subject.slice(prefix.length) : input.subject;
  const msgId = headers.get('nats-msg-id');
  const id =
    msgId !== undefined && msgId !== ''
      ? msgId
      : input.info
        ? `${input.info.stream}:${input.info.streamSequence}`
        : undefined;
  if (id === undefined) {
    throw new Reject(
      NormalizeErrorCode.missingAttribute,
      'a plain message needs a Nats-Msg-Id header or a stream sequence to derive its id',
      'id',
    );
  }
  const attributes = Object.assign(attributeRecord(), {
    specversion: '1.0',
    id,
    source: options.defaultSource,
    type,
    datacontenttype: 'application/json',
    data,
  });
  if (input.info) attributes.time = input.info.receivedAt;
  for (const name of ['traceparent', 'tracestate'] as const) {
    const value = headers.get(name);
    if (value !== undefined) attributes[name] = value;
  }
  return attributes;
}

function requireString(attributes: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const value = attributes[name];
  if (value === undefined || value === null) {
    if (required) throw new Reject(NormalizeErrorCode.missingAttribute, `${name} is required`, name);
    return undefined;
  }
  if (typeof value !== 'string')
    throw new Reject(NormalizeErrorCode.invalidAttribute, `${name} must be a string`, name);
  if (required && value === '')
    throw new Reject(NormalizeErrorCode.missingAttribute, `${name} must not be empty`, name);
  return value;
}

const DATA_PROBLEM_CODES: Record<JsonProblemKind, NormalizeErrorCode> = {
  too_deep: NormalizeErrorCode.payloadTooDeep,
  too_large: NormalizeErrorCode.payloadTooLarge,
  unsupported: NormalizeErrorCode.unsupportedPayload,
};

function finish(attributes: Record<string, unknown>, input: RawMessage, limits: InputLimits): EventEnvelope {
  const specversion = attributes.specversion;
  if (specversion === undefined) {
    throw new Reject(NormalizeErrorCode.missingAttribute, 'specversion is required', 'specversion');
  }
  if (specversion !== '1.0') {
    throw new Reject(
      NormalizeErrorCode.unsupportedSpecversion,
      `specversion ${JSON.stringify(specversion)} is not supported, expected "1.0"`,
      'specversion',
    );
  }
  const envelope: Record<string, unknown> = { specversion: '1.0' };
  for (const name of ['id', 'source', 'type'] as const) envelope[name] = requireString(attributes, name, true);
  for (const name of ['subject', 'datacontenttype', 'dataschema', 'traceparent', 'tracestate'] as const) {
    const value = requireString(attributes, name, false);
    if (value !== undefined) envelope[name] = value;
  }
  for (const name of ['correlationid', 'causationid'] as const) {
    const value = requireString(attributes, name, false);
    if (value !== undefined && value !== '') envelope[name] = value;
  }
  const time = requireString(attributes, 'time', false);
  if (time !== undefined) {
    const problem = rfc3339Problem(time);
    if (problem !== undefined) throw new Reject(NormalizeErrorCode.invalidAttribute, `time: ${problem}`, 'time');
    envelope.time = time;
  }
  envelope.causationdepth = parseDepth(attributes.causationdepth);
  if ('data' in attributes && attributes.data !== undefined) {
    const problem = inspectJson(attributes.data, limits, ['data']);
    if (problem)
      throw new Reject(DATA_PROBLEM_CODES[problem.kind], `${problem.path}: ${problem.message}`, problem.path);
    envelope.data = attributes.data;
  }
  if (typeof attributes.data_base64 === 'string') envelope.data_base64 = attributes.data_base64;

  const extensions = attributeRecord() as Record<string, string | number | boolean>;
  for (const [name, value] of Object.entries(attributes)) {
    if (CORE_ATTRIBUTES.has(name) || KNOWN_EXTENSIONS.has(name) || name === 'data' || name === 'data_base64') continue;
    if (!EXTENSION_NAME.test(name)) {
      throw new Reject(
        NormalizeErrorCode.invalidAttribute,
        `extension attribute names must be 1-20 lower-case letters or digits, got ${JSON.stringify(name)}`,
        name,
      );
    }
    if (value === null || value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new Reject(
        NormalizeErrorCode.invalidAttribute,
        `extension ${name} must be a string, number or boolean`,
        name,
      );
    }
    extensions[name] = value;
  }
  if (Object.keys(extensions).length > 0) envelope.extensions = extensions;

  if (input.info) {
    envelope.delivery = {
      stream: input.info.stream,
      sequence: input.info.streamSequence,
      subject: input.subject,
      receivedAt: input.info.receivedAt,
      deliveryCount: input.info.deliveryCount,
    };
  }
  const parsed = EventEnvelope.safeParse(envelope);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') || undefined;
    throw new Reject(NormalizeErrorCode.invalidAttribute, issue?.message ?? 'invalid envelope', field);
  }
  return parsed.data;
}

function parseDepth(value: unknown): number {
  if (value === undefined || value === null || value === '') return 0;
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d{1,9}$/.test(value)
        ? Number(value)
        : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new Reject(
      NormalizeErrorCode.invalidAttribute,
      'causationdepth must be a non-negative integer',
      'causationdepth',
    );
  }
  return n;
}

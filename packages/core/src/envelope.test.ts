import { CloudEvent, HTTP } from 'cloudevents';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloudEventStringProblem, EventEnvelope, eventKey, rfc3339Problem, StoredEventEnvelope } from './envelope.ts';
import { NormalizeErrorCode, normalizeMessage, type RawMessage } from './normalize-message.ts';

const enc = new TextEncoder();
const options = { defaultSource: 'urn:activity-core:nats', maxPayloadBytes: 64 * 1024 };
const info = { stream: 'AC_EVENTS', streamSequence: 42, deliveryCount: 1, receivedAt: '2025-05-01T10:00:00.000Z' };

function msg(data: unknown, headers: RawMessage['headers'] = {}, subject = 'events.order.created'): RawMessage {
  return {
    subject,
    headers,
    data: typeof data === 'string' ? enc.encode(data) : enc.encode(JSON.stringify(data)),
    info,
  };
}

describe('normalizeMessage: plain JSON', () => {
  it('takes type from the subject, id from Nats-Msg-Id, the default source and the receive time', () => {
    const result = normalizeMessage(msg({ orderId: 7 }, { 'Nats-Msg-Id': 'm-1' }), options);
    expect(result).toEqual({
      ok: true,
      envelope: {
        specversion: '1.0',
        id: 'm-1',
        source: 'urn:activity-core:nats',
        type: 'order.created',
        time: info.receivedAt,
        datacontenttype: 'application/json',
        data: { orderId: 7 },
        causationdepth: 0,
        delivery: {
          stream: 'AC_EVENTS',
          sequence: 42,
          subject: 'events.order.created',
          receivedAt: info.receivedAt,
          deliveryCount: 1,
        },
      },
    });
  });

  it('falls back to stream:sequence for the id, and honours a custom prefix', () => {
    const r = normalizeMessage(msg([1, 2], {}, 'in.x.y'), { ...options, subjectPrefix: 'in.' });
    expect(r.ok && r.envelope.id).toBe('AC_EVENTS:42');
    expect(r.ok && r.envelope.type).toBe('x.y');
  });

  it.each([
    ['not json', {}, NormalizeErrorCode.invalidJson, 'data'],
    ['{"a":1}', { 'content-type': 'text/csv' }, NormalizeErrorCode.unsupportedContentType, 'datacontenttype'],
    [
      '[]',
      { 'content-type': 'application/cloudevents-batch+json' },
      NormalizeErrorCode.unsupportedContentType,
      'datacontenttype',
    ],
  ])('rejects %j with %s', (body, headers, code, field) => {
    const r = normalizeMessage(msg(body, headers), options);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code, field });
  });

  it('needs an id source', () => {
    const r = normalizeMessage({ subject: 'events.a', data: enc.encode('{}') }, options);
    expect(!r.ok && r.error).toMatchObject({ code: 'missing_attribute', field: 'id' });
  });

  it('rejects oversize payloads before parsing', () => {
    const r = normalizeMessage(msg('x'.repeat(100)), { ...options, maxPayloadBytes: 10 });
    expect(!r.ok && r.error.code).toBe('payload_too_large');
  });
});

describe('normalizeMessage: structured and binary CloudEvents', () => {
  const ce = {
    specversion: '1.0',
    id: 'e-1',
    source: 'urn:shop',
    type: 'order.created',
    time: '2025-05-01T09:00:00Z',
    data: { n: 1 },
    correlationid: 'corr',
    causationdepth: 3,
    tenant: 'acme',
  };

  it('reads structured mode with extensions', () => {
    const r = normalizeMessage(msg(ce, { 'content-type': 'application/cloudevents+json' }), options);
    expect(r.ok && r.envelope).toMatchObject({
      id: 'e-1',
      source: 'urn:shop',
      correlationid: 'corr',
      causationdepth: 3,
      extensions: { tenant: 'acme' },
      datacontenttype: 'application/json',
    });
  });

  it('sniffs structured mode without a content type', () => {
    const r = normalizeMessage(msg(ce), options);
    expect(r.ok && r.envelope.source).toBe('urn:shop');
  });

  it('percent-decodes binary headers', () => {
    const r = normalizeMessage(
      msg(
        { n: 1 },
        {
          'ce-specversion': '1.0',
          'ce-id': 'b-1',
          'ce-source': 'urn:shop',
          'ce-type': 'order.created',
          'ce-subject': 'caf%C3%A9%20%25',
          'content-type': 'application/json',
        },
      ),
      options,
    );
    expect(r.ok && r.envelope.subject).toBe('café %');
  });

  it('keeps non-JSON binary data as base64 and text as a string', () => {
    const headers = { 'ce-specversion': '1.0', 'ce-id': 'b', 'ce-source': 's', 'ce-type': 't' };
    const bin = normalizeMessage(
      {
        subject: 'events.t',
        headers: { ...headers, 'content-type': 'application/octet-stream' },
        data: Uint8Array.of(0, 255, 1),
      },
      options,
    );
    expect(bin.ok && bin.envelope.data_base64).toBe('AP8B');
    const text = normalizeMessage(msg('hello', { ...headers, 'content-type': 'text/plain' }), options);
    expect(text.ok && text.envelope.data).toBe('hello');
  });

  it.each([
    [{ ...ce, specversion: '0.3' }, 'unsupported_specversion', 'specversion'],
    [{ ...ce, id: undefined }, 'missing_attribute', 'id'],
    [{ ...ce, source: '' }, 'missing_attribute', 'source'],
    [{ ...ce, type: 5 }, 'invalid_attribute', 'type'],
    [{ ...ce, time: 'yesterday' }, 'invalid_attribute', 'time'],
    [{ ...ce, causationdepth: -1 }, 'invalid_attribute', 'causationdepth'],
    [{ ...ce, 'Bad-Name': 'x' }, 'invalid_attribute', 'Bad-Name'],
    [{ ...ce, nested: { a: 1 } }, 'invalid_attribute', 'nested'],
  ])('rejects %j', (event, code, field) => {
    const r = normalizeMessage(msg(event, { 'content-type': 'application/cloudevents+json' }), options);
    expect(!r.ok && r.error).toMatchObject({ code, field });
  });

  it('rejects malformed percent-encoding', () => {
    const r = normalizeMessage(
      msg({}, { 'ce-specversion': '1.0', 'ce-id': '%zz', 'ce-source': 's', 'ce-type': 't' }),
      options,
    );
    expect(!r.ok && r.error).toMatchObject({ code: 'invalid_attribute', field: 'id' });
  });
});

/** What a NATS transport of the CloudEvents binding does to a header value. */
function percentEncode(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (code > 0x20 && code < 0x7f && ch !== '%' && ch !== '"') out += ch;
    else for (const b of enc.encode(ch)) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const token = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/);
// Objects and arrays: the SDK writes a top-level JSON string unquoted in binary mode, which no
// receiver can tell apart from JSON text, so scalars are not a fair round-trip.
const jsonData = fc
  .jsonValue({ maxDepth: 3 })
  .filter((v) => typeof v === 'object' && v !== null)
  .map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const cloudEventArb = fc.record(
  {
    id: fc.string({ minLength: 1, maxLength: 30 }),
    source: fc.string({ minLength: 1, maxLength: 40 }),
    type: fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.')),
    subject: fc.string({ maxLength: 20 }),
    time: fc
      .date({ min: new Date('2000-01-01'), max: new Date('2099-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString()),
    data: jsonData,
    correlationid: fc.string({ minLength: 1, maxLength: 20 }),
    tenant: fc.string({ minLength: 1, maxLength: 20 }),
  },
  { requiredKeys: ['id', 'source', 'type', 'time', 'data'] },
);

describe('normalizeMessage: the official cloudevents SDK', () => {
  it('structured and binary renderings of the same event normalize to the same envelope', () => {
    fc.assert(
      fc.property(cloudEventArb, (attributes) => {
        const event = new CloudEvent({ ...attributes, datacontenttype: 'application/json' }, false);
        const structured = HTTP.structured(event);
        const binary = HTTP.binary(event);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(binary.headers))
          headers[k] = k.startsWith('ce-') ? percentEncode(String(v)) : String(v);
        const a = normalizeMessage(
          {
            subject: 'events.x',
            headers: structured.headers as Record<string, string>,
            data: enc.encode(String(structured.body)),
          },
          options,
        );
        const b = normalizeMessage({ subject: 'events.x', headers, data: enc.encode(String(binary.body)) }, options);
        expect(a.ok, JSON.stringify(a)).toBe(true);
        expect(b.ok, JSON.stringify(b)).toBe(true);
        if (!a.ok || !b.ok) return;
        const strip = (ct?: string) => ct?.split(';')[0];
        expect({ ...b.envelope, datacontenttype: strip(b.envelope.datacontenttype) }).toEqual({
          ...a.envelope,
          datacontenttype: strip(a.envelope.datacontenttype),
        });
        expect(a.envelope).toMatchObject({
          id: attributes.id,
          source: attributes.source,
          type: attributes.type,
          data: attributes.data,
        });
        expect(eventKey(a.envelope)).toBe(eventKey(b.envelope));
      }),
      { numRuns: 150 },
    );
  });
});

describe('normalizeMessage never throws', () => {
  const headerValue = fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 2 }));
  const headerName = fc.oneof(
    fc.constantFrom(
      'ce-specversion',
      'ce-id',
      'ce-source',
      'ce-type',
      'ce-time',
      'ce-causationdepth',
      'content-type',
      'Nats-Msg-Id',
      'ce-x',
    ),
    fc.string({ maxLength: 12 }),
  );
  it('on arbitrary bytes and headers', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.dictionary(headerName, headerValue, { maxKeys: 6 }),
        fc.string({ maxLength: 30 }),
        (data, headers, subject) => {
          const r = normalizeMessage({ subject, headers, data, info }, options);
          if (!r.ok) expect(r.error.code).not.toBe('internal_error');
        },
      ),
      { numRuns: 400 },
    );
  });
  it('on arbitrary JSON bodies in every mode', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 3 }),
        fc.constantFrom(undefined, 'application/cloudevents+json', 'application/json'),
        fc.boolean(),
        (body, contentType, binary) => {
          const headers: Record<string, string> = {};
          if (contentType) headers['content-type'] = contentType;
          if (binary)
            Object.assign(headers, { 'ce-specversion': '1.0', 'ce-id': 'i', 'ce-source': 's', 'ce-type': 't' });
          const r = normalizeMessage(msg(body, headers), options);
          if (!r.ok) expect(r.error.code).not.toBe('internal_error');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('eventKey', () => {
  it('is a stable 64-char hex of (source, id) and separates the two parts', () => {
    const k = eventKey({ source: 'a', id: 'bc' });
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(eventKey({ source: 'a', id: 'bc' })).toBe(k);
    expect(eventKey({ source: 'ab', id: 'c' })).not.toBe(k);
  });
});

describe('rfc3339Problem: strict RFC 3339 with real calendar checks', () => {
  it.each([
    '2026-02-28T00:00:00Z',
    '2024-02-29T23:59:59Z',
    '2000-02-29T00:00:00Z',
    '2026-04-30T12:00:00.123456789+05:30',
    '2026-12-31T23:59:59-00:00',
    '2026-01-01t00:00:00z',
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59.999+23:59',
  ])('accepts %s', (time) => {
    expect(rfc3339Problem(time)).toBeUndefined();
  });

  it.each([
    ['2026-02-30T00:00:00Z', 'has no day 30'],
    ['2026-02-29T00:00:00Z', 'has no day 29'],
    ['1900-02-29T00:00:00Z', 'has no day 29'],
    ['2026-04-31T00:00:00Z', 'has no day 31'],
    ['2026-13-01T00:00:00Z', 'month 13'],
    ['2026-00-10T00:00:00Z', 'month 00'],
    ['2026-01-00T00:00:00Z', 'has no day 00'],
    ['2026-01-01T24:00:00Z', 'not a time of day'],
    ['2026-01-01T12:60:00Z', 'not a time of day'],
    ['2026-06-30T23:59:60Z', 'leap seconds'],
    ['2026-01-01T00:00:61Z', 'second 61'],
    ['2026-01-01T00:00:00+24:00', 'offset 24:00'],
    ['2026-01-01T00:00:00+01:60', 'offset 01:60'],
    ['2026-01-01 00:00:00Z', 'expected an RFC 3339'],
    ['2026-01-01T00:00:00', 'expected an RFC 3339'],
    ['2026-1-01T00:00:00Z', 'expected an RFC 3339'],
    ['2026-01-01T00:00:00.Z', 'expected an RFC 3339'],
    ['+2026-01-01T00:00:00Z', 'expected an RFC 3339'],
    ['2026-01-01T00:00:00Z\n', 'expected an RFC 3339'],
  ])('refuses %s (%s)', (time, reason) => {
    expect(rfc3339Problem(time)).toContain(reason);
  });

  it('agrees with the calendar on every day of 400 years', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1600, max: 2399 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 31 }),
        (y, m, d) => {
          const text = `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T00:00:00Z`;
          const real = new Date(Date.UTC(y, m - 1, d)).getUTCDate() === d;
          expect(rfc3339Problem(text) === undefined).toBe(real);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('cloudEventStringProblem: the CloudEvents String type', () => {
  it.each(['\u0000', '\u0009', '\u000a', '\u001f', '\u007f', '\u0085', '\u009f'])(
    'refuses the control character %j',
    (c) => {
      expect(cloudEventStringProblem(`a${c}b`)).toContain('control character');
    },
  );
  it.each([['\ud800'], ['\udfff'], ['x\ud83d']])('refuses the unpaired surrogate %s', (c) => {
    expect(cloudEventStringProblem(JSON.parse(`"${c}"`))).toContain('surrogate');
  });
  it.each([['\ufdd0'], ['\ufffe'], ['\uffff'], ['\ud83f\udffe'], ['\udbff\udfff']])(
    'refuses the noncharacter %s',
    (c) => {
      expect(cloudEventStringProblem(JSON.parse(`"${c}"`))).toContain('noncharacter');
    },
  );
  it('accepts other text, astral characters included', () => {
    expect(cloudEventStringProblem('order.created caf\u00e9 😀 \ud800\udc00 \u00a0')).toBeUndefined();
  });
  it('is what EventEnvelope enforces; rows stored before stay readable as StoredEventEnvelope', () => {
    const event = { specversion: '1.0', id: 'a\tb', source: 's', type: 't', time: '2026-02-30T00:00:00Z' };
    const strict = EventEnvelope.safeParse(event);
    expect(strict.success).toBe(false);
    expect(strict.error?.issues.map((i) => i.path.join('.'))).toEqual(['id', 'time']);
    expect(StoredEventEnvelope.safeParse(event).success).toBe(true);
  });
});

describe('normalizeMessage: hostile input', () => {
  const structured = { 'content-type': 'application/cloudevents+json' };
  const base = { specversion: '1.0', id: 'e-1', source: 'urn:shop', type: 'order.created' };
  const binary = { 'ce-specversion': '1.0', 'ce-id': 'b-1', 'ce-source': 'urn:shop', 'ce-type': 'order.created' };

  it.each(['id', 'source', 'type', 'subject', 'correlationid', 'causationid', 'dataschema', 'traceparent', 'tenant'])(
    'refuses a control character in %s, structured and binary, as invalid_attribute',
    (name) => {
      const s = normalizeMessage(msg({ ...base, [name]: 'x\u0000y' }, structured), options);
      const field = name === 'tenant' ? 'extensions.tenant' : name;
      expect(!s.ok && s.error).toMatchObject({ code: 'invalid_attribute', field });
      const b = normalizeMessage(msg({}, { ...binary, [`ce-${name}`]: 'x%01y' }), options);
      expect(!b.ok && b.error).toMatchObject({ code: 'invalid_attribute', field });
    },
  );

  it("refuses a control character in a plain message's Nats-Msg-Id (its id) and subject (its type)", () => {
    const id = normalizeMessage(msg({}, { 'Nats-Msg-Id': 'm\u0007' }), options);
    expect(!id.ok && id.error).toMatchObject({ code: 'invalid_attribute', field: 'id' });
    const type = normalizeMessage(msg({}, { 'Nats-Msg-Id': 'm' }, 'events.a\u0001'), options);
    expect(!type.ok && type.error).toMatchObject({ code: 'invalid_attribute', field: 'type' });
  });

  it('refuses an impossible date and a leap second', () => {
    for (const time of ['2026-02-30T00:00:00Z', '2016-12-31T23:59:60Z']) {
      const r = normalizeMessage(msg({ ...base, time }, structured), options);
      expect(!r.ok && r.error).toMatchObject({ code: 'invalid_attribute', field: 'time' });
    }
  });

  it('dead-letters data PostgreSQL cannot store as unsupported_payload, naming the place', () => {
    const cases: Array<[string, string]> = [
      ['{"a":"x\\u0000"}', 'data.a'],
      ['{"a":["\\ud800"]}', 'data.a[0]'],
      ['{"k\\u0000":1}', 'data'],
      ['{"n":1e400}', 'data.n'],
    ];
    for (const [data, field] of cases) {
      const r = normalizeMessage(
        msg(`{"specversion":"1.0","id":"i","source":"s","type":"t","data":${data}}`, structured),
        options,
      );
      expect(!r.ok && r.error, data).toMatchObject({ code: 'unsupported_payload', field });
      const plain = normalizeMessage(msg(data, { 'Nats-Msg-Id': 'p' }), options);
      expect(!plain.ok && plain.error.code, data).toBe('unsupported_payload');
    }
  });

  it('dead-letters data nested deeper than the limit once as payload_too_deep, at 10,000 levels too', () => {
    const limits = { maxDepth: 4, maxListElements: 10, maxBytes: 1024 };
    const at = normalizeMessage(msg({ ...base, data: [[[[1]]]] }, structured), { ...options, limits });
    expect(at.ok).toBe(true);
    const over = normalizeMessage(msg({ ...base, data: [[[[[1]]]]] }, structured), { ...options, limits });
    expect(!over.ok && over.error).toMatchObject({ code: 'payload_too_deep', field: 'data[0][0][0][0]' });
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    for (const body of [deep, `{"specversion":"1.0","id":"i","source":"s","type":"t","data":${deep}}`]) {
      const r = normalizeMessage(msg(body, { 'Nats-Msg-Id': 'd' }), options);
      expect(!r.ok && r.error.code).toBe('payload_too_deep');
    }
  });

  it('dead-letters lists, maps and strings over the limit as payload_too_large', () => {
    const limits = { maxDepth: 8, maxListElements: 3, maxBytes: 8 };
    const cases: Array<[unknown, boolean]> = [
      [[1, 2, 3], true],
      [[1, 2, 3, 4], false],
      [{ a: 1, b: 2, c: 3, d: 4 }, false],
      ['12345678', true],
      ['123456789', false],
    ];
    for (const [data, ok] of cases) {
      const r = normalizeMessage(msg({ ...base, data }, structured), { ...options, limits });
      expect(r.ok ? 'ok' : r.error.code, JSON.stringify(data)).toBe(ok ? 'ok' : 'payload_too_large');
    }
  });

  it('keeps __proto__ and constructor keys of data as data, and refuses them as attribute names', () => {
    const r = normalizeMessage(
      msg('{"__proto__":{"admin":true},"constructor":{"x":1}}', { 'Nats-Msg-Id': 'p' }),
      options,
    );
    expect(r.ok).toBe(true);
    if (r.ok) {
      const data = r.envelope.data as Record<string, unknown>;
      expect(Object.keys(data)).toEqual(['__proto__', 'constructor']);
      expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    }
    const header = normalizeMessage(msg({}, { ...binary, 'ce-__proto__': 'x' }), options);
    expect(!header.ok && header.error).toMatchObject({ code: 'invalid_attribute', field: '__proto__' });
    const attr = normalizeMessage(
      msg('{"specversion":"1.0","id":"i","source":"s","type":"t","__proto__":"x"}', structured),
      options,
    );
    expect(!attr.ok && attr.error).toMatchObject({ code: 'invalid_attribute', field: '__proto__' });
    const ctor = normalizeMessage(msg({}, { ...binary, 'ce-constructor': 'x' }), options);
    expect(ctor.ok && ctor.envelope.extensions).toEqual({ constructor: 'x' });
  });
});

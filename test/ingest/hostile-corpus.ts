// A generated corpus of hostile NATS messages for ingest, each with the one outcome it must
// have: dead-lettered once with a reason code (and the field, where one is named), or processed
// into a run. The cases are built from tables (every control character, every attribute in
// every wrong way, every limit at and one past it …), so adding a rule adds its cases.

/** The limits the ingest process under test runs with (its AC_INGEST_* / AC_INPUT_* settings). */
export interface CorpusLimits {
  readonly maxPayloadBytes: number;
  readonly maxDepth: number;
  readonly maxListElements: number;
  readonly maxBytes: number;
  readonly maxCausationDepth: number;
}

export type CaseClass =
  | 'bytes'
  | 'encoding'
  | 'json-shape'
  | 'attribute'
  | 'control-character'
  | 'deep-wide'
  | 'prototype-key'
  | 'header-form'
  | 'size-limit';

export type Outcome =
  | { readonly kind: 'dead_letter'; readonly reason: string; readonly field?: string }
  /** Processed into a run; `identity` is the CloudEvent (source, id), or the stream sequence fallback. */
  | { readonly kind: 'run'; readonly identity: { readonly source: string; readonly id: string } | 'stream-sequence' };

export interface HostileCase {
  readonly name: string;
  readonly class: CaseClass;
  /** After the events subject prefix, e.g. `hostile.case`. */
  readonly subjectSuffix: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array;
  readonly expect: Outcome;
}

const enc = new TextEncoder();
const SOURCE = 'urn:hostile';
const TYPE = 'hostile.case';

const deadLetter = (reason: string, field?: string): Outcome =>
  field === undefined ? { kind: 'dead_letter', reason } : { kind: 'dead_letter', reason, field };

function hex(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, '0');
}

/** Percent-encoding of the CloudEvents NATS/HTTP bindings: UTF-8 bytes of everything outside printable ASCII. */
function percentEncode(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code > 0x20 && code < 0x7f && ch !== '%' && ch !== '"') out += ch;
    else for (const b of enc.encode(ch)) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function nestedArrays(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

function nestedMaps(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { k: value };
  return value;
}

/** `data[0][0]…` (arrays) or `data.k.k…` (maps): where the first container past the limit sits. */
function deepPath(kind: 'array' | 'map', depth: number): string {
  return `data${(kind === 'array' ? '[0]' : '.k').repeat(depth)}`;
}

/**
 * Every case of the corpus, for an ingest running with `limits`. Names are unique; ids of the
 * events that must become runs are unique too, so no two of them share a run.
 */
export function hostileCorpus(limits: CorpusLimits): HostileCase[] {
  const cases: HostileCase[] = [];
  let n = 0;
  const nextId = () => `h-${++n}`;

  const add = (c: Omit<HostileCase, 'subjectSuffix'> & { subjectSuffix?: string }) =>
    cases.push({ subjectSuffix: TYPE, ...c });

  /** A structured CloudEvent; `attributes` override the base, `undefined` removes one. */
  const structured = (
    cls: CaseClass,
    name: string,
    attributes: Record<string, unknown>,
    expect: Outcome | ((id: string) => Outcome),
    extraHeaders: Array<[string, string]> = [],
  ) => {
    const id = nextId();
    const event: Record<string, unknown> = { specversion: '1.0', id, source: SOURCE, type: TYPE, data: { n } };
    for (const [k, v] of Object.entries(attributes)) {
      if (v === undefined) delete event[k];
      else event[k] = v;
    }
    add({
      name,
      class: cls,
      headers: [['content-type', 'application/cloudevents+json'], ...extraHeaders],
      body: enc.encode(JSON.stringify(event)),
      expect: typeof expect === 'function' ? expect(typeof event.id === 'string' ? event.id : id) : expect,
    });
  };
  const runOf = (attributes: Record<string, unknown>) => (id: string) =>
    ({
      kind: 'run',
      identity: { source: typeof attributes.source === 'string' ? attributes.source : SOURCE, id },
    }) as const;

  /** A binary-mode CloudEvent; header values are sent as given (percent-encode them yourself). */
  const binary = (
    cls: CaseClass,
    name: string,
    overrides: Record<string, string | undefined>,
    body: Uint8Array | string,
    expect: Outcome | ((id: string) => Outcome),
    contentType: string | undefined = 'application/json',
  ) => {
    const id = nextId();
    const attrs: Record<string, string | undefined> = {
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': SOURCE,
      'ce-type': TYPE,
      ...overrides,
    };
    const headers: Array<[string, string]> = [];
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) headers.push([k, v]);
    if (contentType !== undefined) headers.push(['content-type', contentType]);
    add({
      name,
      class: cls,
      headers,
      body: typeof body === 'string' ? enc.encode(body) : body,
      expect: typeof expect === 'function' ? expect(attrs['ce-id'] ?? id) : expect,
    });
  };

  /** A plain JSON message with a unique Nats-Msg-Id (its event id). */
  const plain = (
    cls: CaseClass,
    name: string,
    body: Uint8Array | string,
    expect: Outcome | 'run',
    extraHeaders: Array<[string, string]> = [],
  ) => {
    const id = nextId();
    add({
      name,
      class: cls,
      headers: [['Nats-Msg-Id', id], ...extraHeaders],
      body: typeof body === 'string' ? enc.encode(body) : body,
      expect: expect === 'run' ? { kind: 'run', identity: { source: 'urn:activity-core:nats', id } } : expect,
    });
  };

  // --- control characters: every one the CloudEvents String type forbids, in each mode -----
  const controls: number[] = [];
  for (let c = 0x00; c <= 0x1f; c++) controls.push(c);
  for (let c = 0x7f; c <= 0x9f; c++) controls.push(c);
  for (const c of controls) {
    const ch = String.fromCharCode(c);
    structured(
      'control-character',
      `structured type with U+${hex(c)}`,
      { type: `hostile.${ch}` },
      deadLetter('invalid_attribute', 'type'),
    );
    binary(
      'control-character',
      `binary ce-source with percent-encoded U+${hex(c)}`,
      { 'ce-source': `urn:x${percentEncode(ch)}` },
      '{}',
      deadLetter('invalid_attribute', 'source'),
    );
  }
  // Raw in a header value (NATS allows all but CR and LF there).
  for (const c of [0x00, 0x01, 0x07, 0x09, 0x1b, 0x7f, 0x85]) {
    binary(
      'control-character',
      `binary ce-id with a raw U+${hex(c)}`,
      { 'ce-id': `id${String.fromCharCode(c)}x` },
      '{}',
      deadLetter('invalid_attribute', 'id'),
    );
  }
  add({
    name: 'plain Nats-Msg-Id with a raw U+0007 (its id)',
    class: 'control-character',
    headers: [['Nats-Msg-Id', `m\u0007${nextId()}`]],
    body: enc.encode('{}'),
    expect: deadLetter('invalid_attribute', 'id'),
  });
  plain(
    'control-character',
    'plain traceparent header with a raw U+0001',
    '{}',
    deadLetter('invalid_attribute', 'traceparent'),
    [['traceparent', '00-\u0001']],
  );
  // In data, control characters are ordinary JSON text, except NUL, which PostgreSQL cannot store.
  for (const c of [0x01, 0x08, 0x09, 0x0a, 0x1f, 0x7f, 0x9f]) {
    structured(
      'control-character',
      `data string with U+${hex(c)}`,
      { data: { s: `a${String.fromCharCode(c)}b` } },
      runOf({}),
    );
  }
  structured(
    'control-character',
    'data string with U+0000',
    { data: { s: 'a\u0000b' } },
    deadLetter('unsupported_payload', 'data.s'),
  );
  structured(
    'control-character',
    'data key with U+0000',
    { data: { 'a\u0000': 1 } },
    deadLetter('unsupported_payload', 'data'),
  );
  binary(
    'control-character',
    'binary text/plain body with a NUL byte',
    {},
    Uint8Array.of(0x61, 0x00, 0x62),
    deadLetter('unsupported_payload', 'data'),
    'text/plain',
  );

  // --- each attribute wrong in each way (structured) ----------------------------------------
  for (const attribute of ['id', 'source', 'type'] as const) {
    const ways: Array<[string, unknown, Outcome]> = [
      ['missing', undefined, deadLetter('missing_attribute', attribute)],
      ['empty', '', deadLetter('missing_attribute', attribute)],
      ['null', null, deadLetter('missing_attribute', attribute)],
      ['a number', 5, deadLetter('invalid_attribute', attribute)],
      ['a boolean', true, deadLetter('invalid_attribute', attribute)],
      ['an object', { a: 1 }, deadLetter('invalid_attribute', attribute)],
      ['a list', ['a'], deadLetter('invalid_attribute', attribute)],
      ['an unpaired surrogate', 'x\ud800', deadLetter('invalid_attribute', attribute)],
      ['a noncharacter', 'x\uffff', deadLetter('invalid_attribute', attribute)],
      ['a supplementary noncharacter', 'x\ud83f\udffe', deadLetter('invalid_attribute', attribute)],
      ['U+2028 (allowed)', 'a\u2028b', { kind: 'run', identity: { source: SOURCE, id: '' } }],
      ['astral text (allowed)', 'a😀b', { kind: 'run', identity: { source: SOURCE, id: '' } }],
    ];
    for (const [way, value, outcome] of ways) {
      if (outcome.kind === 'run') {
        const attrs = { [attribute]: attribute === 'id' ? `${value}${n + 1}` : value };
        structured('attribute', `${attribute} ${way}`, attrs, runOf(attrs));
      } else {
        structured('attribute', `${attribute} ${way}`, { [attribute]: value }, outcome);
      }
    }
  }
  for (const [way, value, outcome] of [
    ['missing', undefined, deadLetter('missing_attribute', 'specversion')],
    ['0.3', '0.3', deadLetter('unsupported_specversion', 'specversion')],
    ['a number', 1.0, deadLetter('unsupported_specversion', 'specversion')],
    ['empty', '', deadLetter('unsupported_specversion', 'specversion')],
    ['with a space', '1.0 ', deadLetter('unsupported_specversion', 'specversion')],
    ['2.0', '2.0', deadLetter('unsupported_specversion', 'specversion')],
  ] as Array<[string, unknown, Outcome]>) {
    structured('attribute', `specversion ${way}`, { specversion: value }, outcome);
  }
  for (const [way, value] of [
    ['not a time', 'yesterday'],
    ['February 30', '2026-02-30T00:00:00Z'],
    ['February 29 of a common year', '2023-02-29T00:00:00Z'],
    ['February 29 of 1900', '1900-02-29T00:00:00Z'],
    ['April 31', '2026-04-31T00:00:00Z'],
    ['month 13', '2026-13-01T00:00:00Z'],
    ['hour 24', '2026-01-01T24:00:00Z'],
    ['minute 60', '2026-01-01T12:60:00Z'],
    ['a leap second', '2016-12-31T23:59:60Z'],
    ['no offset', '2026-01-01T00:00:00'],
    ['a space for T', '2026-01-01 00:00:00Z'],
    ['offset +24:00', '2026-01-01T00:00:00+24:00'],
    ['a date only', '2026-01-01'],
    ['empty', ''],
    ['a number', 1_767_225_600],
    ['an object', { at: 'now' }],
  ] as Array<[string, unknown]>) {
    structured('attribute', `time ${way}`, { time: value }, deadLetter('invalid_attribute', 'time'));
  }
  for (const [way, value] of [
    ['February 29 of a leap year', '2024-02-29T12:00:00Z'],
    ['lower-case t and z', '2026-01-01t00:00:00z'],
    ['an offset with nanoseconds', '2026-04-30T12:00:00.123456789+05:30'],
    ['-00:00', '2026-12-31T23:59:59-00:00'],
  ] as Array<[string, string]>) {
    structured('attribute', `time ${way} (valid)`, { time: value }, runOf({}));
  }
  for (const [name, ways] of [
    [
      'subject',
      [
        ['a number', 5, 'invalid_attribute'],
        ['U+0007', 'a\u0007', 'invalid_attribute'],
        ['empty', '', 'run'],
      ],
    ],
    [
      'datacontenttype',
      [
        ['empty', '', 'invalid_attribute'],
        ['a number', 5, 'invalid_attribute'],
        ['text/plain over JSON data', 'text/plain', 'run'],
      ],
    ],
    [
      'dataschema',
      [
        ['empty', '', 'invalid_attribute'],
        ['a number', 5, 'invalid_attribute'],
        ['U+001B', 'x\u001b', 'invalid_attribute'],
      ],
    ],
    [
      'correlationid',
      [
        ['a number', 5, 'invalid_attribute'],
        ['U+0085', 'a\u0085', 'invalid_attribute'],
        ['empty', '', 'run'],
      ],
    ],
    [
      'causationid',
      [
        ['a number', 5, 'invalid_attribute'],
        ['an object', { a: 1 }, 'invalid_attribute'],
      ],
    ],
    [
      'traceparent',
      [
        ['a number', 5, 'invalid_attribute'],
        ['U+0000', '\u0000', 'invalid_attribute'],
      ],
    ],
    ['tracestate', [['a list', ['a'], 'invalid_attribute']]],
  ] as Array<[string, Array<[string, unknown, string]>]>) {
    for (const [way, value, outcome] of ways) {
      structured(
        'attribute',
        `${name} ${way}`,
        { [name]: value },
        outcome === 'run' ? runOf({}) : deadLetter(outcome, name),
      );
    }
  }
  for (const [way, value] of [
    ['-1', -1],
    ['1.5', 1.5],
    ['"abc"', 'abc'],
    ['"1e3"', '1e3'],
    ['ten digits', '9999999999'],
    ['true', true],
    ['an object', { d: 1 }],
  ] as Array<[string, unknown]>) {
    structured(
      'attribute',
      `causationdepth ${way}`,
      { causationdepth: value },
      deadLetter('invalid_attribute', 'causationdepth'),
    );
  }
  structured(
    'attribute',
    'causationdepth at the limit',
    { causationdepth: limits.maxCausationDepth },
    deadLetter('max_depth', 'causationdepth'),
  );
  structured(
    'attribute',
    'causationdepth over the limit',
    { causationdepth: 1_000 },
    deadLetter('max_depth', 'causationdepth'),
  );
  structured(
    'attribute',
    'causationdepth one under the limit',
    { causationdepth: limits.maxCausationDepth - 1 },
    runOf({}),
  );
  structured('attribute', 'causationdepth as a string', { causationdepth: '2' }, runOf({}));
  structured('attribute', 'causationdepth null', { causationdepth: null }, runOf({}));
  for (const [way, name, value, outcome] of [
    ['an upper-case name', 'Tenant', 'x', deadLetter('invalid_attribute', 'Tenant')],
    ['a name with a dash', 'ten-ant', 'x', deadLetter('invalid_attribute', 'ten-ant')],
    ['a 21-character name', 'abcdefghijklmnopqrstu', 'x', deadLetter('invalid_attribute', 'abcdefghijklmnopqrstu')],
    ['an object value', 'tenant', { a: 1 }, deadLetter('invalid_attribute', 'tenant')],
    ['a list value', 'tenant', [1], deadLetter('invalid_attribute', 'tenant')],
    ['a control character in the value', 'tenant', 'a\u0002', deadLetter('invalid_attribute', 'extensions.tenant')],
    ['an unpaired surrogate in the value', 'tenant', '\udc00', deadLetter('invalid_attribute', 'extensions.tenant')],
    ['a number out of range', 'tenant', '1e400', deadLetter('invalid_attribute', 'extensions.tenant')],
    ['a number', 'tenant', 5, 'run'],
    ['a boolean', 'tenant', false, 'run'],
    ['null', 'tenant', null, 'run'],
  ] as Array<[string, string, unknown, Outcome | 'run']>) {
    if (value === '1e400') {
      // JSON.stringify cannot write 1e400: spliced into the text.
      const id = nextId();
      add({
        name: `extension ${way}`,
        class: 'attribute',
        headers: [['content-type', 'application/cloudevents+json']],
        body: enc.encode(`{"specversion":"1.0","id":"${id}","source":"${SOURCE}","type":"${TYPE}","${name}":1e400}`),
        expect: outcome as Outcome,
      });
      continue;
    }
    structured('attribute', `extension ${way}`, { [name]: value }, outcome === 'run' ? runOf({}) : outcome);
  }
  structured(
    'attribute',
    'data and data_base64 together',
    { data_base64: 'AAE=' },
    deadLetter('invalid_attribute', 'data_base64'),
  );
  structured(
    'attribute',
    'data_base64 a number',
    { data: undefined, data_base64: 5 },
    deadLetter('invalid_attribute', 'data_base64'),
  );
  structured('attribute', 'data_base64 alone', { data: undefined, data_base64: 'AAEC' }, runOf({}));
  structured('attribute', 'no data at all', { data: undefined }, runOf({}));
  structured('attribute', 'data null', { data: null }, runOf({}));

  // --- each attribute wrong in each way (binary headers) ------------------------------------
  for (const [way, overrides, outcome] of [
    ['ce-specversion 0.3', { 'ce-specversion': '0.3' }, deadLetter('unsupported_specversion', 'specversion')],
    ['no ce-id', { 'ce-id': undefined }, deadLetter('missing_attribute', 'id')],
    ['empty ce-id', { 'ce-id': '' }, deadLetter('missing_attribute', 'id')],
    ['no ce-source', { 'ce-source': undefined }, deadLetter('missing_attribute', 'source')],
    ['no ce-type', { 'ce-type': undefined }, deadLetter('missing_attribute', 'type')],
    ['ce-time February 30', { 'ce-time': '2026-02-30T00:00:00Z' }, deadLetter('invalid_attribute', 'time')],
    ['ce-time a leap second', { 'ce-time': '2016-12-31T23:59:60Z' }, deadLetter('invalid_attribute', 'time')],
    ['ce-causationdepth abc', { 'ce-causationdepth': 'abc' }, deadLetter('invalid_attribute', 'causationdepth')],
    [
      'ce-causationdepth at the limit',
      { 'ce-causationdepth': String(limits.maxCausationDepth) },
      deadLetter('max_depth', 'causationdepth'),
    ],
    ['ce-id malformed percent-encoding %zz', { 'ce-id': 'a%zz' }, deadLetter('invalid_attribute', 'id')],
    ['ce-id a lone %', { 'ce-id': 'a%' }, deadLetter('invalid_attribute', 'id')],
    ['ce-id truncated UTF-8 %C3', { 'ce-id': 'a%C3' }, deadLetter('invalid_attribute', 'id')],
    ['ce-id an encoded surrogate %ED%A0%80', { 'ce-id': '%ED%A0%80' }, deadLetter('invalid_attribute', 'id')],
    ['ce-id an overlong %C0%AF', { 'ce-id': '%C0%AF' }, deadLetter('invalid_attribute', 'id')],
    ['ce-subject percent-encoded U+FFFF', { 'ce-subject': '%EF%BF%BF' }, deadLetter('invalid_attribute', 'subject')],
    ['an extension name with an underscore', { 'ce-bad_name': 'x' }, deadLetter('invalid_attribute', 'bad_name')],
    ['ce-dataschema empty', { 'ce-dataschema': '' }, deadLetter('invalid_attribute', 'dataschema')],
  ] as Array<[string, Record<string, string | undefined>, Outcome]>) {
    binary('attribute', `binary ${way}`, overrides, '{}', outcome);
  }
  binary('attribute', 'binary JSON body that is not JSON', {}, '{not json', deadLetter('invalid_json', 'data'));
  binary(
    'attribute',
    'binary text/plain body that is not UTF-8',
    {},
    Uint8Array.of(0x61, 0xff),
    deadLetter('invalid_encoding', 'data'),
    'text/plain',
  );
  binary(
    'attribute',
    'binary octet-stream body (base64)',
    {},
    Uint8Array.of(0, 255, 1, 2, 0x80),
    (id) => ({ kind: 'run', identity: { source: SOURCE, id } }),
    'application/octet-stream',
  );
  binary('attribute', 'binary with an empty body', {}, new Uint8Array(0), (id) => ({
    kind: 'run',
    identity: { source: SOURCE, id },
  }));
  binary(
    'attribute',
    'binary with ce-datacontenttype and no content-type',
    { 'ce-datacontenttype': 'application/json' },
    '{"a":1}',
    (id) => ({ kind: 'run', identity: { source: SOURCE, id } }),
    undefined,
  );
  binary('attribute', 'binary percent-encoded subject', { 'ce-subject': 'caf%C3%A9%20%25' }, '{}', (id) => ({
    kind: 'run',
    identity: { source: SOURCE, id },
  }));

  // --- bytes: what is not UTF-8 -------------------------------------------------------------
  const wrap = (bytes: number[]) => Uint8Array.from([...enc.encode('{"a":"'), ...bytes, ...enc.encode('"}')]);
  for (const [way, bytes] of [
    ['0xFF', [0xff]],
    ['0xFE', [0xfe]],
    ['a lone continuation byte', [0x80]],
    ['an overlong slash', [0xc0, 0xaf]],
    ['an overlong NUL', [0xc0, 0x80]],
    ['an encoded high surrogate', [0xed, 0xa0, 0x80]],
    ['an encoded low surrogate', [0xed, 0xb0, 0x80]],
    ['CESU-8 for an emoji', [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
    ['a truncated 3-byte sequence', [0xe2, 0x82]],
    ['a truncated 4-byte sequence', [0xf0, 0x9f, 0x98]],
    ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a 5-byte sequence', [0xf8, 0x88, 0x80, 0x80, 0x80]],
  ] as Array<[string, number[]]>) {
    plain('bytes', `plain body with ${way}`, wrap(bytes), deadLetter('invalid_encoding', 'data'));
    const id = nextId();
    add({
      name: `structured body with ${way}`,
      class: 'bytes',
      headers: [['content-type', 'application/cloudevents+json']],
      body: Uint8Array.from([
        ...enc.encode(`{"specversion":"1.0","id":"${id}","source":"${SOURCE}","type":"${TYPE}","data":"`),
        ...bytes,
        ...enc.encode('"}'),
      ]),
      expect: deadLetter('invalid_encoding', 'data'),
    });
  }
  plain(
    'bytes',
    'plain body with a raw NUL inside a string',
    Uint8Array.from([...enc.encode('{"a":"x'), 0, ...enc.encode('"}')]),
    deadLetter('invalid_json', 'data'),
  );
  plain(
    'bytes',
    'plain body with a NUL after the JSON',
    Uint8Array.from([...enc.encode('{"a":1}'), 0]),
    deadLetter('invalid_json', 'data'),
  );
  plain(
    'bytes',
    'plain body of random binary',
    Uint8Array.of(0x00, 0x9f, 0x92, 0x96, 0xff, 0x10),
    deadLetter('invalid_encoding', 'data'),
  );
  plain('bytes', 'plain body with a 4-byte emoji (valid)', '{"a":"😀"}', 'run');
  plain(
    'bytes',
    'plain octet-stream body',
    Uint8Array.of(1, 2, 3),
    deadLetter('unsupported_content_type', 'datacontenttype'),
    [['content-type', 'application/octet-stream']],
  );

  // --- encodings ---------------------------------------------------------------------------
  const utf16le = (text: string, bom: boolean) => {
    const out: number[] = bom ? [0xff, 0xfe] : [];
    for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i) & 0xff, text.charCodeAt(i) >> 8);
    return Uint8Array.from(out);
  };
  const utf16be = (text: string) => {
    const out: number[] = [0xfe, 0xff];
    for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i) >> 8, text.charCodeAt(i) & 0xff);
    return Uint8Array.from(out);
  };
  plain(
    'encoding',
    'UTF-16LE without a BOM (NUL bytes are UTF-8, but not JSON)',
    utf16le('{"a":1}', false),
    deadLetter('invalid_json', 'data'),
  );
  plain('encoding', 'UTF-16LE with a BOM', utf16le('{"a":1}', true), deadLetter('invalid_encoding', 'data'));
  plain('encoding', 'UTF-16BE with a BOM', utf16be('{"a":1}'), deadLetter('invalid_encoding', 'data'));
  plain(
    'encoding',
    'Latin-1 é',
    Uint8Array.from([...enc.encode('{"a":"caf'), 0xe9, ...enc.encode('"}')]),
    deadLetter('invalid_encoding', 'data'),
  );
  plain(
    'encoding',
    'UTF-8 with a BOM (the decoder drops it)',
    Uint8Array.from([0xef, 0xbb, 0xbf, ...enc.encode('{"a":1}')]),
    'run',
  );
  plain('encoding', 'escaped unpaired surrogate', '{"a":"\\ud800"}', deadLetter('unsupported_payload', 'data.a'));
  plain(
    'encoding',
    'escaped reversed surrogate pair',
    '{"a":"\\ude00\\ud83d"}',
    deadLetter('unsupported_payload', 'data.a'),
  );
  plain('encoding', 'escaped surrogate pair (valid)', '{"a":"\\ud83d\\ude00"}', 'run');
  plain('encoding', 'escaped NUL', '{"a":"\\u0000"}', deadLetter('unsupported_payload', 'data.a'));
  plain('encoding', 'escaped NUL in a key', '{"\\u0000":1}', deadLetter('unsupported_payload', 'data'));
  plain('encoding', 'escaped noncharacter in data (valid text)', '{"a":"\\uffff"}', 'run');

  // --- JSON shapes --------------------------------------------------------------------------
  for (const [way, body] of [
    ['an empty body', ''],
    ['whitespace only', ' \n\t'],
    ['not JSON', 'hello'],
    ['an unclosed object', '{"a":1'],
    ['two objects', '{"a":1}{"b":2}'],
    ['a trailing comma', '[1,]'],
    ['single quotes', "{'a':1}"],
    ['NaN', 'NaN'],
    ['undefined', 'undefined'],
    ['a comment', '{"a":1 /* c */}'],
    ['an unquoted key', '{a:1}'],
    ['a hex number', '0x10'],
  ] as Array<[string, string]>) {
    plain('json-shape', `plain ${way}`, body, deadLetter('invalid_json', 'data'));
  }
  for (const [way, body] of [
    ['a number', '5'],
    ['a string', '"text"'],
    ['null', 'null'],
    ['true', 'true'],
    ['an empty list', '[]'],
    ['an empty map', '{}'],
    ['surrounding whitespace', '  {"a":1}  '],
    ['-0', '-0'],
    ['a 30-digit integer', '123456789012345678901234567890'],
    ['a duplicate key', '{"a":1,"a":2}'],
    ['an escaped slash', '{"a":"\\/"}'],
  ] as Array<[string, string]>) {
    plain('json-shape', `plain ${way}`, body, 'run');
  }
  plain('json-shape', 'plain 1e400 (not finite)', '{"n":1e400}', deadLetter('unsupported_payload', 'data.n'));
  plain('json-shape', 'plain -1e400 at the top', '-1e400', deadLetter('unsupported_payload', 'data'));
  for (const [way, body] of [
    ['a list', '[]'],
    ['a string', '"event"'],
    ['null', 'null'],
    ['a number', '1'],
  ] as Array<[string, string]>) {
    const id = nextId();
    add({
      name: `structured ${way} instead of an object`,
      class: 'json-shape',
      headers: [
        ['content-type', 'application/cloudevents+json'],
        ['Nats-Msg-Id', id],
      ],
      body: enc.encode(body),
      expect: deadLetter('invalid_json', 'data'),
    });
  }
  structured('json-shape', 'structured without a content type (sniffed)', {}, runOf({}));
  cases[cases.length - 1] = { ...(cases[cases.length - 1] as HostileCase), headers: [] };
  plain(
    'json-shape',
    'a batch of CloudEvents',
    '[{"specversion":"1.0"}]',
    deadLetter('unsupported_content_type', 'datacontenttype'),
    [['content-type', 'application/cloudevents-batch+json']],
  );
  plain('json-shape', 'plain text/csv', 'a,b', deadLetter('unsupported_content_type', 'datacontenttype'), [
    ['content-type', 'text/csv'],
  ]);
  plain('json-shape', 'plain application/xml', '<a/>', deadLetter('unsupported_content_type', 'datacontenttype'), [
    ['content-type', 'application/xml'],
  ]);
  plain('json-shape', 'plain application/problem+json', '{"a":1}', 'run', [
    ['content-type', 'application/problem+json'],
  ]);

  // --- deep and wide data -------------------------------------------------------------------
  const { maxDepth, maxListElements, maxBytes } = limits;
  for (const kind of ['array', 'map'] as const) {
    const build = kind === 'array' ? nestedArrays : nestedMaps;
    structured('deep-wide', `${kind}s nested exactly ${maxDepth} deep`, { data: build(maxDepth) }, runOf({}));
    structured(
      'deep-wide',
      `${kind}s nested ${maxDepth + 1} deep`,
      { data: build(maxDepth + 1) },
      deadLetter('payload_too_deep', deepPath(kind, maxDepth)),
    );
    plain(
      'deep-wide',
      `plain ${kind}s nested ${maxDepth + 1} deep`,
      JSON.stringify(build(maxDepth + 1)),
      deadLetter('payload_too_deep', deepPath(kind, maxDepth)),
    );
  }
  for (const depth of [1_000, 10_000]) {
    // Beyond what JSON.stringify can write: built as text.
    const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    plain(
      'deep-wide',
      `plain lists nested ${depth} deep`,
      deep,
      deadLetter('payload_too_deep', deepPath('array', maxDepth)),
    );
    const id = nextId();
    add({
      name: `structured data nested ${depth} deep`,
      class: 'deep-wide',
      headers: [['content-type', 'application/cloudevents+json']],
      body: enc.encode(`{"specversion":"1.0","id":"${id}","source":"${SOURCE}","type":"${TYPE}","data":${deep}}`),
      expect: deadLetter('payload_too_deep', deepPath('array', maxDepth)),
    });
    binary(
      'deep-wide',
      `binary data nested ${depth} deep`,
      {},
      deep,
      deadLetter('payload_too_deep', deepPath('array', maxDepth)),
    );
  }
  structured(
    'deep-wide',
    'deep in a late key',
    { data: { a: 1, b: [2, nestedMaps(maxDepth)] } },
    deadLetter('payload_too_deep', `data.b[1]${'.k'.repeat(maxDepth - 2)}`),
  );
  const wide = Object.fromEntries(
    Array.from({ length: 20 }, (_, i) => [`k${i}`, Array.from({ length: maxListElements }, () => 0)]),
  );
  structured('deep-wide', `wide: 20 lists of ${maxListElements}`, { data: wide }, runOf({}));

  // --- sizes at and one past each limit -----------------------------------------------------
  structured(
    'size-limit',
    `a list of ${maxListElements}`,
    { data: Array.from({ length: maxListElements }, () => 1) },
    runOf({}),
  );
  structured(
    'size-limit',
    `a list of ${maxListElements + 1}`,
    { data: Array.from({ length: maxListElements + 1 }, () => 1) },
    deadLetter('payload_too_large', 'data'),
  );
  const keys = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]));
  structured('size-limit', `a map of ${maxListElements} keys`, { data: { m: keys(maxListElements) } }, runOf({}));
  structured(
    'size-limit',
    `a map of ${maxListElements + 1} keys`,
    { data: { m: keys(maxListElements + 1) } },
    deadLetter('payload_too_large', 'data.m'),
  );
  structured('size-limit', `a string of ${maxBytes} bytes`, { data: { s: 'x'.repeat(maxBytes) } }, runOf({}));
  structured(
    'size-limit',
    `a string of ${maxBytes + 1} bytes`,
    { data: { s: 'x'.repeat(maxBytes + 1) } },
    deadLetter('payload_too_large', 'data.s'),
  );
  const euros = Math.floor(maxBytes / 3);
  structured('size-limit', `${euros} euro signs (${euros * 3} bytes)`, { data: { s: '€'.repeat(euros) } }, runOf({}));
  structured(
    'size-limit',
    `${euros + 1} euro signs (${(euros + 1) * 3} bytes)`,
    { data: { s: '€'.repeat(euros + 1) } },
    deadLetter('payload_too_large', 'data.s'),
  );
  structured('size-limit', `a key of ${maxBytes} bytes`, { data: { ['k'.repeat(maxBytes)]: 1 } }, runOf({}));
  structured(
    'size-limit',
    `a key of ${maxBytes + 1} bytes`,
    { data: { ['k'.repeat(maxBytes + 1)]: 1 } },
    deadLetter('payload_too_large', 'data'),
  );
  plain(
    'size-limit',
    `a plain string of ${maxBytes + 1} bytes`,
    JSON.stringify('y'.repeat(maxBytes + 1)),
    deadLetter('payload_too_large', 'data'),
  );
  for (const extra of [0, 1]) {
    const id = nextId();
    const head = `{"specversion":"1.0","id":"${id}","source":"${SOURCE}","type":"${TYPE}","data":[`;
    const target = limits.maxPayloadBytes + extra;
    // Strings of at most 1000 bytes, so the list stays within the other limits.
    const lengths: number[] = [];
    let remaining = target - enc.encode(`${head}]}`).length;
    while (remaining > 0) {
      const overhead = 2 + (lengths.length > 0 ? 1 : 0);
      if (remaining < overhead) {
        lengths[lengths.length - 1] = (lengths[lengths.length - 1] ?? 0) + remaining;
        break;
      }
      const len = Math.min(1000, remaining - overhead);
      lengths.push(len);
      remaining -= len + overhead;
    }
    const body = enc.encode(`${head}${lengths.map((len) => `"${'z'.repeat(len)}"`).join(',')}]}`);
    if (body.length !== target || lengths.length > maxListElements || lengths.some((len) => len > maxBytes)) {
      throw new Error(`padding missed: ${body.length} bytes for ${target}`);
    }
    add({
      name: `a message of ${target} bytes (the payload limit${extra ? ' + 1' : ''})`,
      class: 'size-limit',
      headers: [['content-type', 'application/cloudevents+json']],
      body,
      expect: extra === 0 ? { kind: 'run', identity: { source: SOURCE, id } } : deadLetter('payload_too_large', 'data'),
    });
  }
  plain(
    'size-limit',
    'a plain message far over the payload limit',
    `[${'"aaaa",'.repeat(Math.ceil(limits.maxPayloadBytes / 7))}1]`,
    deadLetter('payload_too_large', 'data'),
  );

  // --- prototype keys -----------------------------------------------------------------------
  for (const [way, body] of [
    ['__proto__ with an object', '{"__proto__":{"admin":true}}'],
    ['__proto__ null', '{"__proto__":null}'],
    ['__proto__ a list', '{"__proto__":[1,2]}'],
    ['constructor.prototype', '{"constructor":{"prototype":{"polluted":true}}}'],
    ['nested __proto__', '{"a":{"b":{"__proto__":{"x":1}}}}'],
    ['hasOwnProperty and toString', '{"hasOwnProperty":1,"toString":"x","valueOf":null}'],
    ['__defineGetter__', '{"__defineGetter__":"x","__lookupSetter__":1}'],
  ] as Array<[string, string]>) {
    plain('prototype-key', `data key ${way}`, body, 'run');
  }
  {
    const id = nextId();
    add({
      name: 'structured attribute __proto__',
      class: 'prototype-key',
      headers: [['content-type', 'application/cloudevents+json']],
      body: enc.encode(
        `{"specversion":"1.0","id":"${id}","source":"${SOURCE}","type":"${TYPE}","__proto__":{"id":"x"}}`,
      ),
      expect: deadLetter('invalid_attribute', '__proto__'),
    });
  }
  structured('prototype-key', 'structured extension constructor', { constructor: 'x' }, runOf({}));
  structured('prototype-key', 'structured extension valueof', { valueof: 'x' }, runOf({}));
  structured(
    'prototype-key',
    'structured attribute toString',
    { toString: 'x' },
    deadLetter('invalid_attribute', 'toString'),
  );
  binary(
    'prototype-key',
    'binary header ce-__proto__',
    { 'ce-__proto__': 'x' },
    '{}',
    deadLetter('invalid_attribute', '__proto__'),
  );
  binary('prototype-key', 'binary header ce-constructor', { 'ce-constructor': 'x' }, '{}', (id) => ({
    kind: 'run',
    identity: { source: SOURCE, id },
  }));
  binary('prototype-key', 'binary header ce-hasownproperty', { 'ce-hasownproperty': 'x' }, '{}', (id) => ({
    kind: 'run',
    identity: { source: SOURCE, id },
  }));
  plain('prototype-key', 'plain header named __proto__', '{}', 'run', [['__proto__', 'x']]);
  plain('prototype-key', 'plain header named constructor', '{}', 'run', [['constructor', 'x']]);

  // --- header forms -------------------------------------------------------------------------
  {
    const id = nextId();
    add({
      name: 'binary with ce-id repeated (the first counts)',
      class: 'header-form',
      headers: [
        ['ce-specversion', '1.0'],
        ['ce-id', id],
        ['ce-id', `${id}-second`],
        ['ce-source', SOURCE],
        ['ce-type', TYPE],
        ['content-type', 'application/json'],
      ],
      body: enc.encode('{}'),
      expect: { kind: 'run', identity: { source: SOURCE, id } },
    });
  }
  {
    const id = nextId();
    add({
      name: 'binary with upper-case header names',
      class: 'header-form',
      headers: [
        ['CE-SPECVERSION', '1.0'],
        ['CE-ID', id],
        ['Ce-Source', SOURCE],
        ['cE-tYpE', TYPE],
        ['Content-Type', 'APPLICATION/JSON'],
      ],
      body: enc.encode('{}'),
      expect: { kind: 'run', identity: { source: SOURCE, id } },
    });
  }
  for (const [way, contentType] of [
    ['application/json; charset=utf-8', 'application/json; charset=utf-8'],
    ['padded content type', '  application/json  '],
    ['text/json', 'text/json'],
  ] as Array<[string, string]>) {
    plain('header-form', `plain with ${way}`, '{"a":1}', 'run', [['content-type', contentType]]);
  }
  structured('header-form', 'structured content type with parameters', {}, runOf({}), []);
  cases[cases.length - 1] = {
    ...(cases[cases.length - 1] as HostileCase),
    headers: [['content-type', 'application/cloudevents+json; charset=utf-8']],
  };
  binary('header-form', 'binary ce-id %25 decodes to %', { 'ce-id': `pct-${n + 1}%25` }, '{}', (id) => ({
    kind: 'run',
    identity: { source: SOURCE, id: id.replace('%25', '%') },
  }));
  binary('header-form', 'binary header value of 8 KiB', { 'ce-subject': 's'.repeat(8 * 1024) }, '{}', (id) => ({
    kind: 'run',
    identity: { source: SOURCE, id },
  }));
  binary('header-form', 'binary with an empty ce-subject', { 'ce-subject': '' }, '{}', (id) => ({
    kind: 'run',
    identity: { source: SOURCE, id },
  }));
  {
    const id = nextId();
    const many: Array<[string, string]> = Array.from({ length: 60 }, (_, i) => [`x-extra-${i}`, `v${i}`]);
    add({
      name: 'plain with 60 other headers',
      class: 'header-form',
      headers: [['Nats-Msg-Id', id], ...many],
      body: enc.encode('{}'),
      expect: { kind: 'run', identity: { source: 'urn:activity-core:nats', id } },
    });
  }
  add({
    name: 'plain without Nats-Msg-Id (the id is stream:sequence)',
    class: 'header-form',
    headers: [],
    body: enc.encode('{"a":1}'),
    expect: { kind: 'run', identity: 'stream-sequence' },
  });
  add({
    name: 'plain with an empty Nats-Msg-Id (the id is stream:sequence)',
    class: 'header-form',
    headers: [['Nats-Msg-Id', '']],
    body: enc.encode('{"a":2}'),
    expect: { kind: 'run', identity: 'stream-sequence' },
  });
  plain('header-form', 'plain with a traceparent header', '{}', 'run', [
    ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
  ]);
  binary(
    'header-form',
    'binary with a JSON content type and ce-datacontenttype text',
    { 'ce-datacontenttype': 'text/plain' },
    '{"a":1}',
    (id) => ({ kind: 'run', identity: { source: SOURCE, id } }),
  );

  // Each run case has its own identity; each case its own name.
  const names = new Set<string>();
  for (const c of cases) {
    if (names.has(c.name)) throw new Error(`duplicate case name: ${c.name}`);
    names.add(c.name);
  }
  return cases;
}

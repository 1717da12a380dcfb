import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { jserrors } from '@nats-io/jetstream/internal';
import { errors, RequestError } from '@nats-io/transport-node';
import { describe, expect, test } from 'vitest';
import {
  isAlreadyExists,
  isNoMessageFound,
  isTransientJetStreamError,
  JsApiCode,
  jsApiCode,
} from './jetstream-errors.ts';

// The server's API errors as nats.js builds them from a response's `error` field.
const apiError = (errCode: number, description: string, status = 400) =>
  new JetStreamApiError({ err_code: errCode, code: status, description });

describe('JetStream errors are told apart by type and server code, not by text', () => {
  test('transient: timeouts, no responders, and a cluster that cannot answer now', () => {
    expect(isTransientJetStreamError(new errors.TimeoutError())).toBe(true);
    expect(isTransientJetStreamError(new errors.NoRespondersError('$JS.API.STREAM.INFO.X'))).toBe(true);
    expect(
      isTransientJetStreamError(new RequestError('no responders', { cause: new errors.NoRespondersError('s') })),
    ).toBe(true);
    expect(isTransientJetStreamError(new RequestError('timeout', { cause: new errors.TimeoutError() }))).toBe(true);
    expect(isTransientJetStreamError(new jserrors.JetStreamNotEnabled('jetstream is not enabled'))).toBe(true);
    expect(isTransientJetStreamError(apiError(10008, 'JetStream system temporarily unavailable', 503))).toBe(true);
    expect(isTransientJetStreamError(apiError(10005, 'no suitable peers for placement'))).toBe(true);
    expect(isTransientJetStreamError(apiError(10009, 'JetStream cluster can not handle request', 500))).toBe(true);
    expect(isTransientJetStreamError(apiError(10158, 'duplicate message id is in process', 409))).toBe(true);
  });

  test('final: everything else, whatever its message says', () => {
    // Messages that the old regexes would have taken for transient ones.
    expect(isTransientJetStreamError(apiError(10060, 'expected stream does not match (timeout)'))).toBe(false);
    expect(isTransientJetStreamError(new Error('no responders, timeout'))).toBe(false);
    expect(isTransientJetStreamError(new RequestError('closed', { cause: new errors.ClosedConnectionError() }))).toBe(
      false,
    );
    expect(isTransientJetStreamError(new errors.ClosedConnectionError())).toBe(false);
    expect(isTransientJetStreamError(new JetStreamError('invalid ack response'))).toBe(false);
    expect(isTransientJetStreamError(apiError(10054, 'maximum messages exceeded'))).toBe(false);
    expect(isTransientJetStreamError('timeout')).toBe(false);
  });

  test('a lost create race is recognised for streams and consumers, and only that', () => {
    expect(isAlreadyExists(apiError(JsApiCode.streamNameExists, 'stream name already in use'))).toBe(true);
    expect(isAlreadyExists(apiError(JsApiCode.consumerNameExists, 'consumer name already in use'))).toBe(true);
    expect(isAlreadyExists(apiError(JsApiCode.consumerAlreadyExists, 'consumer already exists'))).toBe(true);
    expect(isAlreadyExists(new Error('stream name already in use'))).toBe(false);
    expect(isAlreadyExists(apiError(10052, 'subjects overlap with an existing stream'))).toBe(false);
  });

  test('no message found, and the code of an API error', () => {
    expect(isNoMessageFound(apiError(JsApiCode.noMessageFound, 'no message found', 404))).toBe(true);
    expect(isNoMessageFound(new Error('no message found'))).toBe(false);
    expect(jsApiCode(apiError(10074, 'replicas > 1 not supported in non-clustered mode', 500))).toBe(10074);
    expect(jsApiCode(new Error('x'))).toBeUndefined();
  });
});

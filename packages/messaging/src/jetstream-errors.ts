import { JetStreamApiError } from '@nats-io/jetstream';
import { errors, RequestError } from '@nats-io/transport-node';

/**
 * The JetStream API error codes activity-core decides on (`err_code` of the server's API
 * errors, nats-server `server/errors.json`). nats.js names only six of them in
 * `JetStreamApiCodes`; the rest are the server's constants, named here the way it names them.
 */
export const JsApiCode = {
  clusterNoPeers: 10005, // JSClusterNoPeersErrF: no suitable peers for placement
  clusterNotAvailable: 10008, // JSClusterNotAvailErr: JetStream system temporarily unavailable
  clusterNotLeader: 10009, // JSClusterNotLeaderErr: JetStream cluster can not handle request
  consumerNameExists: 10013, // JSConsumerNameExistErr: consumer name already in use
  insufficientResources: 10023, // JSInsufficientResourcesErr
  noMessageFound: 10037, // JSNoMessageFoundErr
  streamInvalidConfig: 10052, // JSStreamInvalidConfigF
  streamNameExists: 10058, // JSStreamNameExistErr: stream name already in use with a different configuration
  replicasNotSupported: 10074, // JSStreamReplicasNotSupportedErr: replicas > 1 not supported in non-clustered mode
  consumerAlreadyExists: 10148, // JSConsumerAlreadyExists
  duplicateMessageInProcess: 10158, // JSStreamDuplicateMessageConflict: duplicate message id is in process
} as const;

/** The server's `err_code` of a JetStream API error, or undefined for any other error. */
export function jsApiCode(error: unknown): number | undefined {
  return error instanceof JetStreamApiError ? error.code : undefined;
}

/** A create lost its race: the stream or consumer exists already (an update is what is left). */
export function isAlreadyExists(error: unknown): boolean {
  const code = jsApiCode(error);
  return (
    code === JsApiCode.streamNameExists ||
    code === JsApiCode.consumerNameExists ||
    code === JsApiCode.consumerAlreadyExists
  );
}

/** The message asked for (by sequence) is not in the stream: deleted, expired or never there. */
export function isNoMessageFound(error: unknown): boolean {
  return jsApiCode(error) === JsApiCode.noMessageFound;
}

const TRANSIENT_API_CODES: ReadonlySet<number> = new Set([
  JsApiCode.clusterNoPeers,
  JsApiCode.clusterNotAvailable,
  JsApiCode.clusterNotLeader,
  // A retry that reached the stream while the first attempt with the same message id is still
  // being stored: the next attempt gets the first one's ack (or its duplicate).
  JsApiCode.duplicateMessageInProcess,
]);

/**
 * Whether a JetStream request may succeed if sent again: it timed out (maybe done, maybe
 * not), nobody answered (a stream leader election, a node down — nats.js reports that as
 * `JetStreamNotEnabled` on publishes and API calls), or the server said its cluster cannot
 * answer right now. Anything else (a wrong stream, a payload too large, a closed connection,
 * a refused config) is final.
 */
export function isTransientJetStreamError(error: unknown): boolean {
  if (error instanceof errors.TimeoutError || error instanceof errors.NoRespondersError) return true;
  if (error instanceof RequestError) {
    return error.isNoResponders() || error.cause instanceof errors.TimeoutError;
  }
  // nats.js's JetStreamNotEnabled is not exported from its public entry point; its name is the
  // type's name, set by its constructor.
  if (error instanceof Error && error.name === 'JetStreamNotEnabled') return true;
  const code = jsApiCode(error);
  return code !== undefined && TRANSIENT_API_CODES.has(code);
}

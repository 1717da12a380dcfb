// The ApplicationFailure types of the two workflows. Pure names: imported by workflow code,
// activities and clients alike.
/** ApplicationFailure types the workflows raise on purpose; clients switch on them. */
export const FailureTypes = {
  /** An update arrived for a task that is no longer open. */
  taskNotOpen: 'TaskNotOpen',
  /** The definition (or the pinned version) does not exist. */
  definitionNotFound: 'DefinitionNotFound',
  /** The stored definition does not validate. */
  invalidDefinition: 'InvalidDefinition',
  /** A rule or template failed to evaluate for this trigger. */
  planFailed: 'PlanFailed',
  /** A context source failed permanently (4xx, host not allowed, too large, bad config). */
  contextFailed: 'ContextFailed',
  /** PostgreSQL refused a value: a data exception, an integrity violation, a program limit (SQLSTATE 22, 23, 54). */
  dataRejected: 'DataRejected',
  /** Input or stored data that does not validate. */
  invalidInput: 'InvalidInput',
  /** A value too large for one Temporal payload. */
  payloadTooLarge: 'PayloadTooLarge',
  /** Temporal refused a request as invalid (gRPC INVALID_ARGUMENT). */
  requestRejected: 'RequestRejected',
  /** A close/discard request named a run that is not the key's open window. */
  windowNotOpen: 'WindowNotOpen',
} as const;
export type FailureType = (typeof FailureTypes)[keyof typeof FailureTypes];

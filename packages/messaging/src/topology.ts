/**
 * Names of the streams, subjects and consumer that make up the public NATS contract.
 * A non-empty `prefix` (tests, several installations on one server) turns
 * `AC_EVENTS` / `events.>` into `P_AC_EVENTS` / `p.events.>`, and so on for each stream.
 */
export interface Topology {
  readonly prefix: string;
  readonly events: { readonly stream: string; readonly subjectPrefix: string; readonly subjects: readonly string[] };
  readonly dlq: { readonly stream: string; readonly subjectPrefix: string; readonly subjects: readonly string[] };
  readonly tasks: { readonly stream: string; readonly subjectPrefix: string; readonly subjects: readonly string[] };
  /** Durable pull consumer on the events stream that all ingest replicas share. */
  readonly ingestConsumer: string;
  /**
   * Captures JetStream's MAX_DELIVERIES advisories for the events stream. Advisories are plain
   * core-NATS messages: without this stream, one that fires while no ingest is connected is
   * gone, and its message would sit in the events stream with no one to dead-letter it.
   */
  readonly advisories: { readonly stream: string; readonly subjects: readonly string[] };
}

export function topology(prefix = ''): Topology {
  const streamPrefix = prefix ? `${prefix.toUpperCase()}_` : '';
  const subjectPrefix = prefix ? `${prefix.toLowerCase()}.` : '';
  const events = `${subjectPrefix}events.`;
  const dlq = `${subjectPrefix}dlq.events.`;
  const tasks = `${subjectPrefix}tasks.`;
  return {
    prefix,
    events: { stream: `${streamPrefix}AC_EVENTS`, subjectPrefix: events, subjects: [`${events}>`] },
    dlq: { stream: `${streamPrefix}AC_DLQ`, subjectPrefix: dlq, subjects: [`${dlq}>`] },
    tasks: { stream: `${streamPrefix}AC_TASKS`, subjectPrefix: tasks, subjects: [`${tasks}>`] },
    ingestConsumer: 'ac-ingest',
    advisories: {
      stream: `${streamPrefix}AC_ADVISORIES`,
      subjects: [`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${streamPrefix}AC_EVENTS.*`],
    },
  };
}

/** `tasks.created.{definitionKey}` and its siblings. */
export function taskSubject(
  t: Topology,
  kind: 'created' | 'completed' | 'cancelled' | 'expired',
  definitionKey: string,
): string {
  return `${t.tasks.subjectPrefix}${kind}.${definitionKey}`;
}

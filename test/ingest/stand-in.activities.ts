import type { EventEnvelope } from '@activity-core/core';
import type { Topology } from '@activity-core/messaging';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

export interface StandInActivities {
  emitTaskCreated(input: {
    runWorkflowId: string;
    definitionId: string;
    trigger: { kind: string; envelope?: unknown };
  }): Promise<void>;
}

/** Publishes a `activitycore.task.created` CloudEvent caused by the run's triggering event. */
export function createStandInActivities(nc: NatsConnection, t: Topology): StandInActivities {
  const js = jetstream(nc);
  return {
    async emitTaskCreated(input) {
      const cause = input.trigger.envelope as EventEnvelope;
      const runId = input.runWorkflowId;
      const event = {
        specversion: '1.0',
        id: `task:${runId}:0`,
        source: 'urn:activity-core',
        type: 'activitycore.task.created',
        time: new Date().toISOString(),
        causationid: cause.id,
        causationdepth: (cause.causationdepth ?? 0) + 1,
        datacontenttype: 'application/json',
        data: { definitionId: input.definitionId, runWorkflowId: runId },
      };
      await js.publish(`${t.events.subjectPrefix}activitycore.task.created`, JSON.stringify(event), {
        msgID: event.id,
      });
    },
  };
}

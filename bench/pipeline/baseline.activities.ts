import type { JetStreamClient } from '@nats-io/jetstream';

export interface PublishTaskInput {
  readonly eventId: string;
  readonly taskId: string;
}

export interface BaselineActivities {
  publishTask(input: PublishTaskInput): Promise<void>;
}

/** The baselines' one activity: publish the task to JetStream, de-duplicated by its id like the outbox relay. */
export function createBaselineActivities(js: JetStreamClient, subject: string): BaselineActivities {
  return {
    async publishTask({ eventId, taskId }) {
      await js.publish(subject, JSON.stringify({ eventId, taskId }), { msgID: taskId });
    },
  };
}

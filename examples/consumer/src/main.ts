// What a user's project does with the published client: typed calls against a running API,
// typed errors, and publishing a CloudEvent. Needs AC_API_URL, AC_API_TOKEN, NATS_URL and
// (for a prefixed installation) AC_STREAM_PREFIX.
import {
  type AppRouter,
  createActivityCoreClient,
  createEventPublisher,
  type inferRouterInputs,
  type inferRouterOutputs,
  TRPCClientError,
} from '@activity-core/client';

type Outputs = inferRouterOutputs<AppRouter>;
type Inputs = inferRouterInputs<AppRouter>;

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const api = createActivityCoreClient({ url: env('AC_API_URL'), token: env('AC_API_TOKEN') });

const input: Inputs['definitions']['create'] = {
  spec: {
    key: `consumer-${Date.now().toString(36)}`,
    name: 'Big orders need a review',
    trigger: { kind: 'event', event: { types: ['order.created'], filter: 'event.data.total > 100' } },
    taskTemplates: [{ key: 'review', title: 'Review order {{ event.data.orderId }}' }],
  },
};
const created: Outputs['definitions']['create'] = await api.definitions.create.mutate(input);
const version: number = created.version;
const createdAt: string = created.createdAt;

// @ts-expect-error: expectedVersion is required by definitions.update
void (() => api.definitions.update.mutate({ id: created.id, spec: input.spec }));

const dry = await api.definitions.dryRun.query({
  definitionId: created.id,
  event: {
    specversion: '1.0',
    id: 'o-1',
    source: 'urn:shop',
    type: 'order.created',
    data: { orderId: 'A-1', total: 500 },
  },
});

let conflict = '';
try {
  await api.definitions.update.mutate({ id: created.id, expectedVersion: version + 5, spec: input.spec });
} catch (error) {
  if (error instanceof TRPCClientError) conflict = String(error.data?.code);
}

let fieldPaths: string[] = [];
try {
  await api.definitions.create.mutate({ spec: { ...input.spec, key: 'Bad Key' } });
} catch (error) {
  if (error instanceof TRPCClientError) {
    const fieldErrors: Array<{ path: string; message: string }> | null | undefined = error.data?.fieldErrors;
    fieldPaths = (fieldErrors ?? []).map((e) => e.path);
  }
}

const publisher = await createEventPublisher({ natsUrl: env('NATS_URL'), prefix: process.env.AC_STREAM_PREFIX ?? '' });
const published = await publisher.publish({
  specversion: '1.0',
  id: `evt-${created.id}`,
  source: 'urn:shop',
  type: 'order.created',
});
const again = await publisher.publish({
  specversion: '1.0',
  id: `evt-${created.id}`,
  source: 'urn:shop',
  type: 'order.created',
});
await publisher.close();

const { items } = await api.definitions.list.query({ limit: 100 });
process.stdout.write(
  `${JSON.stringify({
    created: { key: created.key, version, createdAt },
    listed: items.some((d) => d.id === created.id),
    dryRun: { wouldTrigger: dry.wouldTrigger, titles: dry.tasks.map((t) => t.title) },
    conflict,
    fieldPaths,
    published: { subject: published.subject, duplicate: again.duplicate },
  })}\n`,
);

export { TRPCClientError } from '@trpc/client';
export type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
export type { ActivityCoreClient, ActivityCoreClientOptions, AppRouter } from './api-client.ts';
export { createActivityCoreClient } from './api-client.ts';
export type { CloudEventInput, EventPublisher, EventPublisherOptions, PublishResult } from './event-publisher.ts';
export { createEventPublisher, InvalidEventError } from './event-publisher.ts';

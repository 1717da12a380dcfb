export type { OutboxRelay, OutboxRelayOptions } from './outbox-relay.ts';
export { startOutboxRelay } from './outbox-relay.ts';

export type { OutboxPruner, OutboxPrunerOptions } from './outbox-pruner.ts';
export { startOutboxPruner } from './outbox-pruner.ts';
export type { OutboxRelay, OutboxRelayOptions } from './outbox-relay.ts';
export { startOutboxRelay } from './outbox-relay.ts';

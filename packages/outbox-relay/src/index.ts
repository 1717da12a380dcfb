export type { OutboxPruner, OutboxPrunerOptions } from './outbox-pruner.ts';
export { startOutboxPruner } from './outbox-pruner.ts';
export type { CommittedOutboxRow, OutboxRelay, OutboxRelayOptions } from './outbox-relay.ts';
export { startOutboxRelay } from './outbox-relay.ts';

// One home for the picking rule: the stack's, which npm start and the test stacks use too.
export { stablePort } from '@activity-core/stack';

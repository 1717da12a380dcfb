// One home for the picking rule: the stack's, which npm start and the test stacks use too.
export { freePort } from '@activity-core/stack';

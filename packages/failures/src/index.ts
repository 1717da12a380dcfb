export type { FailureClass } from './failure-classification.ts';
export { classifyFailure, PayloadTooLargeError, toActivityFailure } from './failure-classification.ts';

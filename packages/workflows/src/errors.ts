/** Codes of the errors the client helpers throw; the API maps them to tRPC codes in one place. */
export const WorkflowClientErrorCode = {
  notFound: 'NOT_FOUND',
  conflict: 'CONFLICT',
} as const;
export type WorkflowClientErrorCode = (typeof WorkflowClientErrorCode)[keyof typeof WorkflowClientErrorCode];

/** No task workflow with this id exists (never started, or past retention). */
export class TaskNotFoundError extends Error {
  override readonly name = 'TaskNotFoundError';
  readonly code = WorkflowClientErrorCode.notFound;
  readonly workflowId: string;
  constructor(workflowId: string, options?: ErrorOptions) {
    super(`task ${workflowId} not found`, options);
    this.workflowId = workflowId;
  }
}

/** The task exists but is no longer open (completed, cancelled or expired), or is closing. */
export class TaskConflictError extends Error {
  override readonly name = 'TaskConflictError';
  readonly code = WorkflowClientErrorCode.conflict;
  readonly workflowId: string;
  constructor(workflowId: string, detail: string, options?: ErrorOptions) {
    super(`task ${workflowId}: ${detail}`, options);
    this.workflowId = workflowId;
  }
}

/** The event window is no longer open (it closed by its own rules, or was closed or discarded). */
export class WindowConflictError extends Error {
  override readonly name = 'WindowConflictError';
  readonly code = WorkflowClientErrorCode.conflict;
  readonly runId: string;
  constructor(runId: string, detail: string, options?: ErrorOptions) {
    super(`window run ${runId}: ${detail}`, options);
    this.runId = runId;
  }
}

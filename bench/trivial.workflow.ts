// The baseline of bench/run-duration.ts: a workflow that does nothing, so its start→complete
// time is Temporal's own floor on this machine.
export async function trivialWorkflow(n: number): Promise<number> {
  return n;
}

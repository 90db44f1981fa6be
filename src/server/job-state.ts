// A Job's outcome from its status (batch/v1 JobStatus): the Complete / Failed conditions are the
// authoritative end states; the counters cover servers that set them before the conditions.
export interface JobLike {
  spec?: { backoffLimit?: number } | undefined;
  status?:
    | {
        succeeded?: number | undefined;
        failed?: number | undefined;
        conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> | undefined;
      }
    | undefined;
}

export type JobPhase = { phase: 'running' } | { phase: 'succeeded' } | { phase: 'failed'; message: string };

export function jobState(job: JobLike): JobPhase {
  const conditions = job.status?.conditions ?? [];
  const cond = (type: string) => conditions.find((c) => c.type === type && c.status === 'True');
  const failed = cond('Failed');
  if (failed) {
    return {
      phase: 'failed',
      message: [failed.reason, failed.message].filter(Boolean).join(': ') || 'Failed',
    };
  }
  if (cond('Complete') || (job.status?.succeeded ?? 0) > 0) return { phase: 'succeeded' };
  const limit = job.spec?.backoffLimit;
  if (limit !== undefined && (job.status?.failed ?? 0) > limit) {
    return { phase: 'failed', message: `${job.status?.failed} pod(s) failed (backoffLimit ${limit})` };
  }
  return { phase: 'running' };
}

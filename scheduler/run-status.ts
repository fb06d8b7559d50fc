import type { StageStatus } from '../store/index.ts';

const FINAL = new Set<StageStatus>(['success', 'failure', 'canceled', 'skipped']);

export function isFinal(status: StageStatus): boolean {
  return FINAL.has(status);
}

/** A run's state, derived from its stages' (docs/api.md, "Runs"). */
export function deriveRunStatus(stages: Array<{ status: StageStatus }>): StageStatus {
  const statuses = stages.map((s) => s.status);
  if (statuses.every(isFinal)) {
    if (statuses.includes('failure')) return 'failure';
    if (statuses.includes('canceled')) return 'canceled';
    if (statuses.length > 0 && statuses.every((s) => s === 'skipped')) return 'skipped';
    return 'success';
  }
  // A run with a stage at work is running; else one held at a gate (an approval, a lock) waits,
  // even when other stages have ended: it says what the run needs next.
  if (statuses.includes('running')) return 'running';
  if (statuses.includes('waiting')) return 'waiting';
  return statuses.some(isFinal) ? 'running' : 'queued';
}

import type { ForgeEvent } from '../providers/types.ts';
import { matchesFilter } from './globs.ts';
import type { Pipeline } from './types.ts';

export interface MatchResult {
  triggered: boolean;
  /** Why it runs, or which filter rejected it. */
  reason: string;
}

function list(patterns: string[]): string {
  return `[${patterns.join(', ')}]`;
}

/** Whether a pipeline runs for an event, and the filter that decided. */
export function matchPipeline(pipeline: Pipeline, event: ForgeEvent): MatchResult {
  if (event.deleted || event.sha === null) return { triggered: false, reason: 'deletions start no run' };
  if (event.kind === 'push') {
    const push = pipeline.on.push;
    if (!push) return { triggered: false, reason: 'on.push: not a trigger of this pipeline' };
    if (push.branches && !matchesFilter(event.branch ?? '', push.branches)) {
      return { triggered: false, reason: `on.push.branches: '${event.branch}' matches none of ${list(push.branches)}` };
    }
    return { triggered: true, reason: push.branches ? `on.push.branches: '${event.branch}' matches ${list(push.branches)}` : 'on.push' };
  }
  return { triggered: false, reason: `on.${event.kind}: not a trigger of this pipeline` };
}

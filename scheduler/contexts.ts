import type { ForgeEvent } from '../providers/types.ts';

/** The `<event>` segment of a status context (docs/forges.md, "Statuses on the forge"). */
export function contextEvent(event: Pick<ForgeEvent, 'kind' | 'action'>): string {
  if (event.kind === 'pull_request') return event.action === 'merged' ? 'merge' : 'pr';
  return event.kind;
}

export function runContext(pipeline: string, event: Pick<ForgeEvent, 'kind' | 'action'>): string {
  return `forgeline/${pipeline}/${contextEvent(event)}`;
}

export function stageContext(pipeline: string, event: Pick<ForgeEvent, 'kind' | 'action'>, stage: string): string {
  return `${runContext(pipeline, event)}/${stage}`;
}

export function runUrl(publicUrl: string, runId: number, stage?: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/runs/${runId}${stage ? `#${encodeURIComponent(stage)}` : ''}`;
}

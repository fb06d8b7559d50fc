import { providerFor, PermanentReportError, RateLimitedError, type StatusReport } from '../providers/index.ts';
import { reportMetrics } from './metrics.ts';
import { QUEUES } from './queues.ts';
import { logs, statusReports, type RunRow, type StageRow, type StageStatus } from '../store/index.ts';
import { runContext, runUrl, stageContext } from './contexts.ts';
import type { SchedulerDeps } from './deps.ts';
import { isFinal } from './run-status.ts';

function seconds(from: Date | null, to: Date | null): string {
  if (!from || !to) return '';
  return ` in ${Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000))}s`;
}

function describe(status: StageStatus, reason: string | null, timing = ''): string {
  switch (status) {
    case 'queued': return 'queued';
    case 'waiting': return `waiting: ${reason ?? ''}`.trim();
    case 'running': return 'running';
    case 'success': return `succeeded${timing}`;
    case 'failure': return reason ? `failed: ${reason}` : 'failed';
    case 'canceled': return reason ? `canceled: ${reason}` : 'canceled';
    case 'skipped': return `skipped: ${reason ?? 'condition not met'}`;
  }
}

function runDescription(run: RunRow, stages: StageRow[]): string {
  // A run that reports without running (an invalid file, a failing `if`, filters that rejected a pull request) says why.
  if (run.reason) return run.reason;
  const failed = stages.find((s) => s.status === 'failure');
  if (run.status === 'failure' && failed) return `failed: stage ${failed.name}${failed.reason ? `: ${failed.reason}` : ''}`;
  const done = stages.filter((s) => isFinal(s.status)).length;
  if (run.status === 'running') return `running: ${done} of ${stages.length} stages done`;
  return describe(run.status, null);
}

/** What the forge should show for a run: its own context and one per stage (docs/forges.md, "Statuses on the forge"). */
export function desiredStatuses(publicUrl: string, run: RunRow, stages: StageRow[]): StatusReport[] {
  // Bitbucket Cloud shows a pull request's statuses only when they name its source branch.
  const branch: string | null = run.event.pullRequest?.headRef ?? run.event.branch ?? null;
  const reports = stages.map((s) => ({
    branch,
    context: stageContext(run.pipeline, run.event, s.name),
    state: s.status,
    description: describe(s.status, s.reason, seconds(s.startedAt, s.finishedAt)),
    targetUrl: runUrl(publicUrl, run.id, s.name),
  }));
  const own = { context: runContext(run.pipeline, run.event), state: run.status, description: runDescription(run, stages), targetUrl: runUrl(publicUrl, run.id), branch };
  // A finished run is reported after its stages, a starting one before them.
  return isFinal(run.status) ? [...reports, own] : [own, ...reports];
}

/**
 * The report job: posts every context whose state differs from the last one
 * posted. It reads the state when it runs, so a late or retried job never
 * brings back an older state; a state is never posted twice in a row. One
 * process at a time reports a run; a job that finds another at work fails and
 * is retried, since the other may have read an older state.
 */
export async function reportRun(deps: SchedulerDeps, runId: number): Promise<void> {
  const ran = await statusReports.withReportLock(deps.session, runId, () => postStatuses(deps, runId));
  if (!ran) throw new Error(`run ${runId} is being reported by another process`);
}

async function postStatuses(deps: SchedulerDeps, runId: number): Promise<void> {
  const view = await statusReports.reportView(deps.pool, deps.box, runId);
  if (!view) return;
  const { run, stages, repo, posted, token } = view;
  const provider = repo && providerFor(repo.forge);
  if (!repo || !provider) return statusReports.settleReport(deps.pool, runId, run.updatedAt);
  const desired = desiredStatuses(deps.publicUrl, run, stages);
  const checks = provider.checks;
  const app = checks ? view.app : null;
  for (const report of desired) {
    const last = posted.get(report.context);
    const state = app ? checks!.state(report.state) : provider.statuses.state(report.state);
    // Never the same state twice in a row; where the forge allows it, a new description is worth a post.
    if (last && last.state === state && (!provider.statuses.acceptsSameState || last.description === report.description)) continue;
    try {
      let externalId: string | null = null;
      if (app) {
        // GitHub App mode: a check run per context, its log's tail once the stage is done.
        const stage = stages.find((st) => stageContext(run.pipeline, run.event, st.name) === report.context);
        const logTail = stage && isFinal(stage.status) ? await logs.logTail(deps.pool, run.id, stage.name, stage.attempt) : undefined;
        externalId = await checks!.post({ name: repo.name, apiUrl: repo.apiUrl, token }, app, run.sha,
          { ...report, externalId: `${run.id}:${stage?.name ?? ''}`, logTail }, last?.externalId ?? null);
      } else {
        await provider.statuses.post({ name: repo.name, apiUrl: repo.apiUrl, token }, run.sha, report);
      }
      await statusReports.recordPosted(deps.pool, repo.id, run.sha, run.id, { context: report.context, state, description: report.description, externalId });
    } catch (err) {
      reportMetrics.failures.inc({ forge: repo.forge, kind: err instanceof RateLimitedError ? 'rate_limited' : err instanceof PermanentReportError ? 'permanent' : 'error' });
      if (err instanceof RateLimitedError) {
        // The forge said when: this report comes back then (the stately queue keeps one waiting per run).
        deps.log.warn({ delivery: run.deliveryId, run: runId, context: report.context, retryAfter: err.retryAfter }, 'forge rate limit: report postponed');
        await deps.boss.send(QUEUES.report, { runId }, { singletonKey: `run:${runId}`, startAfter: err.retryAfter });
        await statusReports.postponeReport(deps.pool, runId, err.retryAfter);
        return;
      }
      if (!(err instanceof PermanentReportError)) throw err;
      deps.log.warn({ delivery: run.deliveryId, run: runId, context: report.context, err: err.message }, 'forge refused a status');
      await statusReports.recordReportError(deps.pool, repo.id, run.sha, run.id, report.context, err.message);
    }
  }
  // Every context was posted or refused for good: nothing is due until the state changes.
  await statusReports.settleReport(deps.pool, runId, run.updatedAt);
}

import { deliveries, logs, retention, runs, type Queryable, type RunRow } from '../store/index.ts';
import { isFinal } from '../scheduler/run-status.ts';
import { InputError } from '../scheduler/errors.ts';

/** GET /api/runs/<id> (docs/api.md). */
export async function runView(db: Queryable, id: number) {
  const run = await runs.getRun(db, id);
  if (!run) return null;
  const stages = await runs.getStages(db, id);
  const attempts = await runs.stageAttempts(db, id);
  const started = stages.map((s) => s.startedAt).filter((d): d is Date => d !== null);
  const finished = isFinal(run.status) ? stages.map((s) => s.finishedAt).filter((d): d is Date => d !== null) : [];
  const startedAt = started.length ? new Date(Math.min(...started.map(Number))) : null;
  const finishedAt = finished.length ? new Date(Math.max(...finished.map(Number))) : null;
  return {
    id: run.id,
    pipeline: run.pipeline,
    file: run.file,
    repo: run.repoId,
    sha: run.sha,
    event: run.event,
    status: run.status,
    reason: run.reason,
    problems: run.problems,
    attempt: run.attempt,
    delivery: run.deliveryId,
    createdAt: run.createdAt,
    startedAt,
    finishedAt,
    durationMs: startedAt && finishedAt ? finishedAt.getTime() - startedAt.getTime() : null,
    message: run.event.message?.split('\n')[0] ?? null,
    triggeredBy: triggeredBy(run),
    approvedBy: run.approvedBy,
    // For a fork's pull request: its changes to .forgeline/, shown before anyone approves it.
    pipelineDiff: run.event.pullRequest?.fromFork ? await runs.pipelineDiff(db, run.id) : null,
    stages: stages.map((s) => {
      const def = run.definition?.stages.find((d) => d.name === s.name);
      const ended = attempts.filter((a) => a.stage === s.name);
      const current = ended.find((a) => a.attempt === s.attempt);
      return {
        name: s.name, status: s.status, needs: s.needs, attempt: s.attempt,
        startedAt: s.startedAt, finishedAt: s.finishedAt,
        durationMs: s.startedAt && s.finishedAt ? s.finishedAt.getTime() - s.startedAt.getTime() : null,
        reason: s.reason, waitingFor: s.waitingFor, approvedBy: s.approvedBy,
        environment: def?.environment ?? null,
        // A matrix instance: the stage it is an instance of, and its values.
        matrix: def?.matrix ? { stage: def.matrix.stage, values: def.matrix.values } : null,
        steps: current?.steps ?? null,
        attempts: [
          ...ended.filter((a) => a.attempt !== s.attempt),
          ...(current ? [current] : [{ attempt: s.attempt, status: s.status, reason: s.reason, startedAt: s.startedAt, finishedAt: s.finishedAt, steps: null }]),
        ].map((a) => ({ attempt: a.attempt, status: a.status, reason: a.reason, startedAt: a.startedAt, finishedAt: a.finishedAt, steps: a.steps })),
      };
    }),
  };
}

/** GET /api/deliveries/<id> (docs/api.md). */
export async function deliveryView(db: Queryable, id: string) {
  const d = await deliveries.getDelivery(db, id);
  if (!d) return null;
  return {
    id: d.id, forge: d.forge, repo: d.repo, receivedAt: d.receivedAt, status: d.status, reason: d.reason,
    headers: d.headers, events: d.events, runs: await runs.runIdsOfDelivery(db, id), explain: d.explain,
  };
}

/** The log of a stage's attempt (its current one by default); null when the run has no such stage or attempt. */
export async function stageLog(db: Queryable, runId: number, stage: string, attempt?: number): Promise<AsyncIterable<string> | null> {
  if (!Number.isInteger(runId)) return null;
  const row = (await runs.getStages(db, runId)).find((s) => s.name === stage);
  if (!row || (attempt !== undefined && (!Number.isInteger(attempt) || attempt < 1 || attempt > row.attempt))) return null;
  // A run past retention keeps its summary, not its logs: the log says so instead of reading empty.
  const pruned = await retention.prunedAt(db, runId);
  if (pruned) return (async function* () { yield `forgeline: this log was deleted on ${pruned.toISOString().slice(0, 10)}, past the server's retention (FORGELINE_RETENTION_DAYS)\n`; })();
  return logs.readLogPages(db, runId, stage, attempt ?? row.attempt);
}

/** Who or what started a run, as people say it: the pusher, the trigger's actor, the schedule. */
export function triggeredBy(run: Pick<RunRow, 'event'>): string | null {
  const e = run.event;
  if (e.kind === 'schedule') return 'schedule';
  return e.sender ?? (e.kind === 'webhook' ? 'webhook' : null);
}

/** A page cursor that is an id (runs, deployments), or a 400: never a value the database is left to refuse. */
export function idCursor(cursor: string): number {
  if (!/^\d{1,15}$/.test(cursor)) throw new InputError(`cursor ${cursor} is not one this API gave: use the "next" of a page`);
  return Number(cursor);
}

/** GET /api/deliveries?repo=&limit=&cursor= : newest first; `next` is the cursor of the following page. */
export async function deliveryList(db: Queryable, opts: { repoId: string | null; limit: number; cursor: string | null }) {
  let before: { at: Date; id: string } | null = null;
  if (opts.cursor) {
    const [at, id] = Buffer.from(opts.cursor, 'base64url').toString('utf8').split('|');
    if (!at || !id || Number.isNaN(Date.parse(at))) throw new InputError(`cursor ${opts.cursor} is not one this API gave: use the "next" of a page`);
    before = { at: new Date(at), id };
  }
  const rows = await deliveries.listDeliveries(db, { repoId: opts.repoId, limit: opts.limit, before });
  const last = rows.at(-1);
  return {
    items: rows.map((d) => ({ id: d.id, forge: d.forge, repo: d.repo, receivedAt: d.receivedAt, status: d.status, reason: d.reason, event: d.eventHeader })),
    next: rows.length === opts.limit && last ? Buffer.from(`${last.receivedAt.toISOString()}|${last.id}`).toString('base64url') : null,
  };
}

/** GET /api/runs?repo=&sha=&ref=&status= : newest first. */
export async function runList(db: Queryable, f: { repoId: string | null; sha: string | null; ref: string | null; status: string | null; pipeline?: string | null; limit: number; cursor: string | null }) {
  const rows = await runs.listRuns(db, { ...f, beforeId: f.cursor ? idCursor(f.cursor) : null });
  return {
    items: rows.map((r) => ({
      id: r.id, pipeline: r.pipeline, repo: r.repoId, sha: r.sha, status: r.status, reason: r.reason, attempt: r.attempt,
      event: r.event.kind, branch: r.event.branch, tag: r.event.tag, pullRequest: r.event.pullRequest?.number ?? null,
      message: r.event.message?.split('\n')[0] ?? null, triggeredBy: triggeredBy(r), createdAt: r.createdAt,
      startedAt: r.startedAt, finishedAt: r.finishedAt,
      durationMs: r.startedAt && r.finishedAt ? r.finishedAt.getTime() - r.startedAt.getTime() : null,
    })),
    next: rows.length === f.limit ? String(rows.at(-1)!.id) : null,
  };
}

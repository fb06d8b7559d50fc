import { deliveries, logs, runs, type Queryable } from '../store/index.ts';
import { InputError } from '../scheduler/errors.ts';

/** GET /api/runs/<id> (docs/api.md). */
export async function runView(db: Queryable, id: number) {
  const run = await runs.getRun(db, id);
  if (!run) return null;
  const stages = await runs.getStages(db, id);
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
    approvedBy: run.approvedBy,
    // For a fork's pull request: its changes to .forgeline/, shown before anyone approves it.
    pipelineDiff: run.event.pullRequest?.fromFork ? await runs.pipelineDiff(db, run.id) : null,
    stages: stages.map((s) => ({
      name: s.name, status: s.status, needs: s.needs, attempt: s.attempt,
      startedAt: s.startedAt, finishedAt: s.finishedAt, reason: s.reason, waitingFor: s.waitingFor, approvedBy: s.approvedBy,
      environment: run.definition?.stages.find((d) => d.name === s.name)?.environment ?? null,
    })),
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

/** The log of a stage's current attempt; null when the run has no such stage. */
export async function stageLog(db: Queryable, runId: number, stage: string): Promise<AsyncIterable<string> | null> {
  if (!Number.isInteger(runId)) return null;
  const row = (await runs.getStages(db, runId)).find((s) => s.name === stage);
  return row ? logs.readLogPages(db, runId, stage, row.attempt) : null;
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
export async function runList(db: Queryable, f: { repoId: string | null; sha: string | null; ref: string | null; status: string | null; limit: number; cursor: string | null }) {
  const rows = await runs.listRuns(db, { ...f, beforeId: f.cursor ? idCursor(f.cursor) : null });
  return {
    items: rows.map((r) => ({
      id: r.id, pipeline: r.pipeline, repo: r.repoId, sha: r.sha, status: r.status, reason: r.reason, attempt: r.attempt,
      event: r.event.kind, branch: r.event.branch, createdAt: r.createdAt,
    })),
    next: rows.length === f.limit ? String(rows.at(-1)!.id) : null,
  };
}

import { createHash } from 'node:crypto';
import { remoteDefaultBranch } from '../git/index.ts';
import type { Pipeline } from '../pipelines/index.ts';
import { providerFor } from '../providers/index.ts';
import { repos, type Repo } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { QUEUES, type ScheduleJob } from './queues.ts';

/** pg-boss keys allow letters, digits and `_-./` only: the cron is hashed in. */
export const scheduleKey = (repoId: string, pipeline: string, cron: string) =>
  `${repoId}/${pipeline}/${createHash('sha256').update(cron).digest('hex').slice(0, 16)}`;

/** The repository's default branch and its head, asked of the forge's git server. */
export async function defaultBranch(deps: SchedulerDeps, repo: Repo): Promise<{ branch: string; sha: string } | null> {
  const token = await repos.repoToken(deps.pool, deps.box, repo.id);
  const auth = providerFor(repo.forge)?.credentials.gitAuthConfig({ name: repo.name, apiUrl: repo.apiUrl, token }) ?? [];
  const head = await remoteDefaultBranch(repo.cloneUrl, auth).catch(() => null);
  if (head && head.branch !== repo.defaultBranch) await repos.setDefaultBranch(deps.pool, repo.id, head.branch);
  return head;
}

/**
 * Makes pg-boss's schedules match the `on.schedule` entries of the pipeline
 * files on the default branch: called whenever the default branch is planned.
 */
export async function syncSchedules(deps: SchedulerDeps, repo: Repo, pipelines: Pipeline[]): Promise<void> {
  const wanted = new Map<string, ScheduleJob>();
  for (const p of pipelines) {
    for (const { cron } of p.on.schedule ?? []) wanted.set(scheduleKey(repo.id, p.name, cron), { repoId: repo.id, pipeline: p.name, cron });
  }
  const existing = (await deps.boss.getSchedules(QUEUES.schedule)).filter((s) => s.key.startsWith(`${repo.id}/`));
  for (const s of existing) if (!wanted.has(s.key)) await deps.boss.unschedule(QUEUES.schedule, s.key);
  const have = new Set(existing.map((s) => s.key));
  for (const [key, job] of wanted) {
    if (!have.has(key)) await deps.boss.schedule(QUEUES.schedule, job.cron, job, { key, tz: 'UTC' });
  }
}


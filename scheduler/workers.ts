import type { PgBoss } from 'pg-boss';
import { sharedPlanningPool } from '../pipelines/index.ts';
import { removeLeftovers } from './leftovers.ts';
import type { SchedulerDeps } from './deps.ts';
import { planDelivery } from './plan.ts';
import { preparedCheckouts } from './prepared-checkouts.ts';
import { startPresence, type Presence } from './presence.ts';
import { QUEUES, type PlanJob, type ReportJob, type ScheduleJob, type StageJob } from './queues.ts';
import { reportRun } from './report.ts';
import { createReporter } from './reporter.ts';
import { fireSchedule } from './schedule-fire.ts';
import { requeueUnstarted } from './reaper.ts';
import { runStageJob, workspaceRoot } from './stage.ts';
import { ensureStageQueue, queuesServedBy } from './stage-queues.ts';

/**
 * One NOTIFY can announce several jobs (one transaction, several sends), but
 * wakes a worker only once: after every job, the queue's busy workers (the
 * one that just finished among them) are told to fetch again as soon as
 * their job is done, so they keep fetching while jobs remain instead of
 * waiting for the backstop poll. Idle ones are left alone: they found the
 * queue empty, and a job sent since came with a NOTIFY of its own. Waking
 * them too cost an empty fetch each, per job (bench:workers counts them).
 */
function wakeQueue(boss: PgBoss, queue: string): void {
  for (const worker of boss.getWipData()) {
    if (worker.name === queue && worker.count > 0) boss.notifyWorker(worker.id);
  }
}

async function handle<T>(deps: SchedulerDeps, queue: string, fn: (data: T) => Promise<void>, data: T): Promise<void> {
  try {
    await fn(data);
  } catch (err) {
    // pg-boss retries the job; the log says why it failed.
    const ids = data as { runId?: number; deliveryIds?: string[] };
    // fetch says only "fetch failed": its cause (refused, timed out, no such host) is what a user can act on.
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    deps.log.error({ queue, run: ids.runId, deliveries: ids.deliveryIds, job: data, err: cause ? `${(err as Error).message}: ${cause}` : (err as Error).message }, 'job failed');
    throw err;
  } finally {
    wakeQueue(deps.boss, queue);
  }
}

function semaphore(size: number) {
  let free = size;
  const waiting: Array<() => void> = [];
  return {
    async run<T>(fn: () => Promise<T>): Promise<T> {
      if (free > 0) free--;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await fn();
      } finally {
        release();
      }
    },
    /** Takes a free slot at once, answering true, or answers false when none is free; `release` gives it back. */
    tryTake(): boolean {
      if (free === 0) return false;
      free--;
      return true;
    },
    release,
  };
  function release(): void {
    const next = waiting.shift();
    if (next) next();
    else free++;
  }
}

const MAX_STARTED_HERE = 1;
// Runs reported at once, by report jobs and again by the reporter: a slow forge holds no more.
const REPORT_CONCURRENCY = 4;

export interface WorkerOptions {
  /** How many stages run at once in this process. */
  concurrency: number;
  /** Worker labels for `runs-on`. */
  labels?: string[];
  /** The backstop poll while LISTEN/NOTIFY is up; NOTIFY and wakeQueue do the real work. */
  backstopPollSeconds?: number;
  /** FORGELINE_HEARTBEAT_SECONDS: a worker quiet for this long has lost its stages. */
  heartbeatSeconds?: number;
  /** How long a shutdown waits for running stages before failing them (to be retried elsewhere). */
  shutdownSeconds?: number;
}

export interface Workers {
  presence: Presence;
  /** Graceful stop: take no new work, let running stages finish within `graceSeconds` (default: shutdownSeconds), then fail the rest. */
  stop(graceSeconds?: number): Promise<void>;
}

/** Registers this process's handlers: planning, stages, schedules and status reports. */
export async function startWorkers(deps: SchedulerDeps, opts: WorkerOptions): Promise<Workers> {
  const presence = await startPresence(deps, { labels: opts.labels ?? [], concurrency: opts.concurrency, heartbeatSeconds: opts.heartbeatSeconds ?? 30 });
  // What a worker killed before this one left on the back end goes now, not at the first monitor pass.
  await removeLeftovers(deps).catch((err: Error) => deps.log.warn({ err: err.message }, 'leftovers of earlier stages could not be removed'));
  // The first delivery finds its planning thread started.
  (deps.planning ?? sharedPlanningPool()).warm();
  const polling = { batchSize: 1, notifyPollingIntervalSeconds: opts.backstopPollSeconds ?? 10, pollingIntervalSeconds: 2 };
  await deps.boss.work<PlanJob>(QUEUES.plan, { ...polling, localConcurrency: 2 }, async ([job]) =>
    handle(deps, QUEUES.plan, async (d: PlanJob) => {
      // Every delivery of the batch gets planned; a failure retries the job, and planning is idempotent.
      let failure: unknown;
      for (const id of d.deliveryIds) await planDelivery(deps, id, { unlessPlanned: d.unlessPlanned }).catch((err) => { failure ??= err; });
      if (failure) throw failure;
    }, job!.data));
  const stageQueues = opts.concurrency > 0 ? queuesServedBy(opts.labels ?? []) : [];
  if (stageQueues.length) deps.prepared = preparedCheckouts(workspaceRoot(deps), opts.labels ?? []);
  // One limit across every label queue this worker serves.
  const slots = semaphore(opts.concurrency);
  for (const queue of stageQueues) {
    await ensureStageQueue(deps.boss, queue);
    await deps.boss.work<StageJob>(queue, { ...polling, localConcurrency: opts.concurrency }, async ([job]) =>
      slots.run(() => handle(deps, queue, (d: StageJob) => runStageJob(deps, d, presence), job!.data)));
  }
  // Stages started here without a job (gates.ts startHere): no pg-boss handler to wait for at
  // shutdown, so stop() waits for these until their results are recorded. At most one at a
  // time: the queue's fetch loops do not see the slot it takes, and while it runs one of them
  // may fetch a job and hold it for the next free slot here rather than leave it to an idle
  // worker elsewhere; one stage started here bounds that to one job per worker.
  const startedHere = new Set<Promise<unknown>>();
  let reservedHere = 0;
  let stopping = false;
  if (stageQueues.length) {
    deps.slotHere = (labels) => {
      if (stopping || reservedHere >= MAX_STARTED_HERE || !labels.every((l) => (opts.labels ?? []).includes(l))) return null;
      if (!slots.tryTake()) return null;
      reservedHere++;
      let given = false;
      const release = () => {
        if (given) return;
        given = true;
        reservedHere--;
        slots.release();
      };
      return {
        start(job, claimed) {
          // Claimed for this worker while it began to stop: back to the queue, for another worker.
          const work: Promise<unknown> = stopping ? requeueUnstarted(deps, { runId: job.runId, name: job.stage, attempt: job.attempt })
            : runStageJob(deps, job, presence, { claimed });
          const running: Promise<unknown> = work
            .catch((err) => deps.log.error({ run: job.runId, stage: job.stage, err: (err as Error).message }, 'stage failed to start'))
            .finally(() => {
              release();
              startedHere.delete(running);
            });
          startedHere.add(running);
        },
        release,
      };
    };
  }
  await deps.boss.work<ScheduleJob>(QUEUES.schedule, { ...polling, localConcurrency: 1 }, async ([job]) =>
    handle(deps, QUEUES.schedule, async (d: ScheduleJob) => { await fireSchedule(deps, d); }, job!.data));
  await deps.boss.work<ReportJob>(QUEUES.report, { ...polling, localConcurrency: REPORT_CONCURRENCY }, async ([job]) =>
    handle(deps, QUEUES.report, (d: ReportJob) => reportRun(deps, d.runId), job!.data));
  const reporter = createReporter(deps, { concurrency: REPORT_CONCURRENCY });
  deps.reporter = reporter;

  return {
    presence,
    async stop(graceSeconds = opts.shutdownSeconds ?? 30) {
      stopping = true;
      deps.slotHere = undefined;
      for (const queue of stageQueues) await deps.boss.offWork(queue, { wait: false }).catch(() => {});
      const deadline = Date.now() + graceSeconds * 1000;
      while (presence.running() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (presence.running() > 0) {
        deps.log.warn({ stages: presence.running() }, 'shutdown deadline passed: failing the stages still running');
        presence.abortAll();
        while (presence.running() > 0) await new Promise((r) => setTimeout(r, 50));
      }
      // Also a start that a transaction committed after stop() began (it queues its stage again).
      while (startedHere.size || reservedHere) await Promise.all([...startedHere, new Promise((r) => setTimeout(r, 50))]);
      // After the stages: their results' reports go from here, or as report jobs.
      if (deps.reporter === reporter) deps.reporter = undefined;
      await reporter.stop();
      await presence.stop();
      await deps.prepared?.close();
      deps.prepared = undefined;
    },
  };
}

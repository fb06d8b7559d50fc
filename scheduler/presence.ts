import { hostname } from 'node:os';
import { workers } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { removeLeftovers } from './leftovers.ts';
import { freeLocksOfLostWorkers, reapLostStages, requeueUntrackedStages } from './reaper.ts';
import { replanLostDeliveries } from './replan.ts';
import { reportOverdueRuns } from './overdue-reports.ts';
import type { StageAttempt } from './finish-stage.ts';

export interface Presence {
  /** An abort signal for a stage this worker runs: aborted when the stage is canceled or taken away. */
  track(stage: StageAttempt): AbortSignal;
  untrack(stage: StageAttempt): void;
  /** Aborts every stage still running here (shutdown past its deadline). */
  abortAll(): void;
  running(): number;
  /** Set once the worker began shutting down. */
  readonly stopping: boolean;
  /** Stop heartbeating and mark the worker stopped (its leftover stages are reaped at once). */
  stop(): Promise<void>;
}

/** Listens for cancels on the process's own session (store/session.ts); answers how to stop. */
async function listenForCancels(deps: SchedulerDeps, onCancel: () => void): Promise<() => void> {
  // After a reconnect a cancel may have been missed: beat now, which asks the database.
  const handle = await deps.session.listen(workers.CANCEL_CHANNEL, onCancel, onCancel);
  return () => void handle.close();
}

const keyOf = (s: StageAttempt) => `${s.runId}\0${s.name}\0${s.attempt}`;

/**
 * The worker's row in `workers`, kept fresh twice a second: the heartbeat also
 * tells it which of its stages were canceled (their process trees are
 * killed within half a second), and a monitor pass reaps the stages of workers
 * that went quiet.
 */
export async function startPresence(deps: SchedulerDeps, opts: { labels: string[]; concurrency: number; heartbeatSeconds: number }): Promise<Presence> {
  await workers.registerWorker(deps.pool, { id: deps.workerName, host: hostname(), pid: process.pid, labels: opts.labels, concurrency: opts.concurrency });
  const tracked = new Map<string, { stage: StageAttempt; controller: AbortController }>();
  let stopped = false;
  let stopping = false;

  // Since when every heartbeat of this process reached the database (null: the last one failed).
  let reachedSince: number | null = Date.now();
  // When the latest heartbeat that reached the database was sent: the others may take this
  // worker's stages once the database has not heard it for an interval (reaper.ts).
  let heardAt = Date.now();
  const tick = Math.min(500, opts.heartbeatSeconds * 1000 / 3);
  // Before that moment, with room for a late tick, its steps are held (SIGSTOP), and
  // the first heartbeat that gets through says which are still its own: those go on,
  // the others are killed. A retry never runs beside a step of a worker cut off
  // from the database; a database that restarted only pauses the steps.
  // At least two ticks, or a short interval would hold and release the steps between beats.
  const holdAfterMs = Math.max(2 * tick, opts.heartbeatSeconds * 1000 - Math.max(2 * tick, opts.heartbeatSeconds * 1000 / 4));
  let holding = false;
  const beat = async () => {
    const sent = Date.now();
    let stale: StageAttempt[];
    try {
      stale = await workers.heartbeat(deps.pool, deps.workerName, [...tracked.values()].map((t) => t.stage));
    } catch (err) {
      reachedSince = null;
      throw err;
    }
    reachedSince ??= Date.now();
    heardAt = Math.max(heardAt, sent);
    for (const s of stale) tracked.get(keyOf(s))?.controller.abort();
    if (holding) {
      holding = false;
      deps.backend.hold?.(false);
      deps.log.warn({ stages: tracked.size, taken: stale.length }, 'the database answers again: held steps go on, those of stages taken meanwhile were killed');
    }
  };
  const holdIfUnheard = () => {
    if (holding || Date.now() - heardAt < holdAfterMs) return;
    holding = true;
    deps.backend.hold?.(true);
    deps.log.warn({ stages: tracked.size, unheardMs: Date.now() - heardAt }, 'the database has not heard this worker for most of an interval: its steps are held until it does');
  };
  // Workers the database could not hear while it was away are not lost: a process reaps
  // only once its own heartbeats have reached the database for a whole interval.
  const heardLongEnough = () => reachedSince !== null && Date.now() - reachedSince >= opts.heartbeatSeconds * 1000;
  // A cancel is also announced with NOTIFY: the worker beats at once instead of at its next tick.
  const stopListening = await listenForCancels(deps, () => { if (!stopped) beat().catch(() => {}); });
  const beatTimer = setInterval(() => {
    if (stopped) return;
    holdIfUnheard();
    beat().catch((err) => deps.log.warn({ err: (err as Error).message }, 'heartbeat failed'));
  }, tick);
  // Spread the monitor passes of many workers over the interval.
  const reapEvery = (opts.heartbeatSeconds * 1000) / 2;
  let reporting = false;
  const reapTimer = setInterval(() => {
    if (stopped) return;
    const failed = (err: Error) => deps.log.warn({ err: err.message }, 'monitor pass failed');
    if (heardLongEnough()) {
      reapLostStages(deps, opts.heartbeatSeconds).then(() => freeLocksOfLostWorkers(deps, opts.heartbeatSeconds)).then(() => removeLeftovers(deps)).catch(failed);
      requeueUntrackedStages(deps, () => [...tracked.values()].map((t) => t.stage), opts.heartbeatSeconds).catch(failed);
    }
    replanLostDeliveries(deps, opts.heartbeatSeconds * 2).catch(failed);
    // Reports call the forge: a pass still at it when the next one is due is not doubled.
    if (!reporting) {
      reporting = true;
      reportOverdueRuns(deps, opts.heartbeatSeconds * 2).catch(failed).finally(() => { reporting = false; });
    }
  }, reapEvery * (0.75 + Math.random() / 2));

  return {
    track(stage) {
      const controller = new AbortController();
      tracked.set(keyOf(stage), { stage, controller });
      return controller.signal;
    },
    untrack(stage) {
      tracked.delete(keyOf(stage));
    },
    abortAll() {
      stopping = true;
      for (const t of tracked.values()) t.controller.abort();
    },
    get stopping() {
      return stopping;
    },
    running: () => tracked.size,
    async stop() {
      stopped = true;
      if (holding) deps.backend.hold?.(false);
      stopListening();
      clearInterval(beatTimer);
      clearInterval(reapTimer);
      await workers.stopWorker(deps.pool, deps.workerName).catch(() => {});
    },
  };
}

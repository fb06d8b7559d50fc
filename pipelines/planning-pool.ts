import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ForgeEvent } from '../providers/types.ts';
import type { EventExplain, LoadedPipelines } from './explain.ts';
import type { FromThread, ToThread } from './planning-thread.ts';
import type { RepoView } from './repo-view.ts';

/**
 * Planning reads files anyone who can push wrote, a fork's author too: a
 * glob that backtracks, a condition that loops over a large payload, YAML
 * that inflates. It runs in worker threads so that the process keeps
 * answering, and a thread that computes for longer than `seconds` (reads
 * from git and the forge do not count) or outgrows `memoryMb` is stopped:
 * the event's pipelines then fail with the limit named (PlanningLimitError).
 */
export interface PlanningLimits {
  /** FORGELINE_PLANNING_SECONDS: computing time for one event's plan, or one condition. */
  seconds: number;
  /** Heap of one planning thread. */
  memoryMb: number;
  /** Threads planning at once; more requests wait for one. */
  threads: number;
}

export const DEFAULT_PLANNING_LIMITS: PlanningLimits = { seconds: 2, memoryMb: 256, threads: Math.max(2, Math.min(4, availableParallelism())) };

/** A plan stopped at a limit: the same files would hit it again, so it is reported, not retried. */
export class PlanningLimitError extends Error {}

// From a checkout the sources run (type stripping); the package has them built into dist/.
const THREAD = new URL(import.meta.url.endsWith('.ts') ? './planning-thread.ts' : './planning-thread.js', import.meta.url);

class PlanningThread {
  worker: Worker;
  ready: Promise<void>;
  stopped = false;
  constructor(memoryMb: number) {
    this.worker = new Worker(THREAD, { resourceLimits: { maxOldGenerationSizeMb: memoryMb }, stdout: false, stderr: false });
    // An idle thread keeps no process alive.
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (m: FromThread) => { if (m.type === 'ready') { this.worker.off('error', reject); this.worker.off('message', onMessage); resolve(); } };
      this.worker.on('message', onMessage);
      this.worker.once('error', reject);
    });
    // Not awaited by anyone yet: the request that takes the thread sees the failure.
    this.ready.catch(() => { this.stopped = true; });
  }
  stop(): void {
    this.stopped = true;
    void this.worker.terminate();
  }
}

export class PlanningPool {
  readonly limits: PlanningLimits;
  private idle: PlanningThread[] = [];
  private started = 0;
  private waiting: Array<(thread: PlanningThread) => void> = [];
  private closed = false;

  constructor(limits: Partial<PlanningLimits> = {}) {
    this.limits = { ...DEFAULT_PLANNING_LIMITS, ...limits };
  }

  /** Starts a thread ahead of the first plan, so that it does not wait for one. */
  warm(): void {
    if (this.started === 0 && !this.closed) this.release(this.spawn());
  }

  /** The explain trace of one event against its commit's pipeline files, and the files as loaded. */
  explain(view: RepoView, event: ForgeEvent, payload: unknown): Promise<{ loaded: LoadedPipelines; entry: EventExplain }> {
    return this.request({ type: 'explain', event, payload }, view) as Promise<{ loaded: LoadedPipelines; entry: EventExplain }>;
  }

  /** A stage's `if`, decided within the limits; throws with the message its status shows. */
  condition(source: string, vars: Record<string, unknown>): Promise<boolean> {
    return this.request({ type: 'condition', source, vars }, null) as Promise<boolean>;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.idle.map((t) => t.worker.terminate()));
    this.idle = [];
  }

  private spawn(): PlanningThread {
    this.started++;
    return new PlanningThread(this.limits.memoryMb);
  }

  private acquire(): Promise<PlanningThread> {
    const thread = this.idle.pop();
    if (thread) return Promise.resolve(thread);
    if (this.started < this.limits.threads) return Promise.resolve(this.spawn());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(thread: PlanningThread): void {
    if (thread.stopped) {
      this.started--;
      if (this.closed) return;
      // Replaced at once: the next request should not wait for a thread to load.
      thread = this.spawn();
    }
    if (this.closed) return void thread.worker.terminate();
    const next = this.waiting.shift();
    if (next) next(thread);
    else this.idle.push(thread);
  }

  private async request(message: Exclude<ToThread, { type: 'answer' }>, view: RepoView | null): Promise<unknown> {
    if (this.closed) throw new Error('planning has stopped (the process is shutting down)');
    const thread = await this.acquire();
    // A thread takes a second to load: the next request finds one ready, even after this one is stopped.
    if (this.idle.length === 0 && this.started < this.limits.threads) this.idle.push(this.spawn());
    try {
      await thread.ready;
      return await this.run(thread, message, view);
    } finally {
      this.release(thread);
    }
  }

  /** One request on a thread, timed while the thread computes: the time its reads take is the caller's. */
  private run(thread: PlanningThread, message: Exclude<ToThread, { type: 'answer' }>, view: RepoView | null): Promise<unknown> {
    const { seconds, memoryMb } = this.limits;
    const worker = thread.worker;
    return new Promise((resolve, reject) => {
      let left = seconds * 1000;
      let since = 0;
      let timer: NodeJS.Timeout | undefined;
      let reading = 0;
      let settled = false;
      const compute = () => { since = performance.now(); timer = setTimeout(overtime, Math.max(0, left)); };
      const pause = () => { clearTimeout(timer); left -= performance.now() - since; };
      const settle = (stop: boolean) => {
        settled = true;
        clearTimeout(timer);
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        if (stop) thread.stop();
      };
      const overtime = () => {
        settle(true);
        reject(new PlanningLimitError(message.type === 'condition'
          ? `the condition took more than ${seconds} s of computing (FORGELINE_PLANNING_SECONDS)`
          : `planning took more than ${seconds} s of computing (FORGELINE_PLANNING_SECONDS): a glob or an if: condition in .forgeline/ costs too much`));
      };
      const onError = (err: Error & { code?: string }) => {
        settle(true);
        reject(err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new PlanningLimitError(`planning needed more than ${memoryMb} MB of memory: a pipeline file in .forgeline/ inflates too much`)
          : new Error(`planning failed: ${err.message}`));
      };
      const onExit = () => { settle(true); reject(new Error('the planning thread stopped')); };
      const onMessage = async (m: FromThread) => {
        if (m.type === 'done') { settle(false); resolve(m.value); return; }
        if (m.type === 'failed') { settle(false); reject(new Error(m.error)); return; }
        if (m.type !== 'read' || !view) return;
        if (reading++ === 0) pause();
        let answer: ToThread;
        try {
          answer = { type: 'answer', id: m.id, value: await (view[m.method] as (...args: unknown[]) => Promise<unknown>)(...m.args) };
        } catch (err) {
          answer = { type: 'answer', id: m.id, error: (err as Error).message };
        }
        if (settled) return;
        if (--reading === 0) compute();
        worker.postMessage(answer);
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      compute();
      worker.postMessage(message);
    });
  }
}

let shared: PlanningPool | undefined;

/** The process's pool with the default limits, for callers given none. */
export function sharedPlanningPool(): PlanningPool {
  return (shared ??= new PlanningPool());
}

// Runs in a worker thread started by planning-pool.ts: plans one event at a
// time against a commit's pipeline files, asking the process that started
// it for every read. Only computation happens here, so that the pool can
// stop a thread that computes for too long without losing anything.
import { parentPort } from 'node:worker_threads';
import type { ForgeEvent } from '../providers/types.ts';
import { evaluateCondition } from './cel.ts';
import { explainEvent, loadPipelines } from './explain.ts';
import type { RepoView } from './repo-view.ts';

export type ToThread =
  | { type: 'explain'; event: ForgeEvent; payload: unknown }
  | { type: 'condition'; source: string; vars: Record<string, unknown> }
  | { type: 'answer'; id: number; value?: unknown; error?: string };

export type FromThread =
  | { type: 'ready' }
  | { type: 'read'; id: number; method: keyof RepoView; args: unknown[] }
  | { type: 'done'; value: unknown }
  | { type: 'failed'; error: string };

const port = parentPort!;
const send = (message: FromThread) => port.postMessage(message);
const reads = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
let nextRead = 0;

function read<T>(method: keyof RepoView, ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const id = ++nextRead;
    reads.set(id, { resolve: resolve as (value: unknown) => void, reject });
    send({ type: 'read', id, method, args });
  });
}

const view: RepoView = {
  ensureCommit: (sha) => read('ensureCommit', sha),
  defaultBranchHead: () => read('defaultBranchHead'),
  branchHead: (branch) => read('branchHead', branch),
  pipelineFiles: (sha) => read('pipelineFiles', sha),
  blobs: (ids) => read('blobs', ids),
  commitMessage: (sha) => read('commitMessage', sha),
  mergeBase: (a, b) => read('mergeBase', a, b),
  changedFiles: (from, to) => read('changedFiles', from, to),
};

async function answer(message: Exclude<ToThread, { type: 'answer' }>): Promise<unknown> {
  if (message.type === 'condition') return evaluateCondition(message.source, message.vars);
  const loaded = await loadPipelines(view, message.event.sha!);
  const entry = await explainEvent(view, message.event, message.payload, loaded);
  return { loaded, entry };
}

port.on('message', (message: ToThread) => {
  if (message.type === 'answer') {
    const pending = reads.get(message.id);
    reads.delete(message.id);
    if (message.error !== undefined) pending?.reject(new Error(message.error));
    else pending?.resolve(message.value);
    return;
  }
  answer(message).then(
    (value) => send({ type: 'done', value }),
    (err: Error) => send({ type: 'failed', error: err.message }),
  );
});
send({ type: 'ready' });

import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Spawned { exitCode: number; stdout: Buffer; stderr: Buffer }
interface Reply { id: number; error?: string; exitCode?: number | null; signal?: NodeJS.Signals | null; stdout?: Buffer; stderr?: Buffer; pid?: number; chunk?: Buffer }
interface Request { file: string; args: string[]; cwd?: string; env: Record<string, string>; input?: string; stream?: boolean }

const here = fileURLToPath(import.meta.url);
// spawner-child.ts from a checkout, spawner-child.js from the built package.
const script = path.join(path.dirname(here), `spawner-child${path.extname(here)}`);

class SpawnerExited extends Error {
  constructor() { super('the spawner process exited'); }
}

let spawner: ChildProcess | null = null;
let nextId = 1;
// Requests under way, each with the spawner it went to. `reply` answers true on the request's last reply.
const pending = new Map<number, { child: ChildProcess; reply: (r: Reply) => boolean; fail: (e: Error) => void }>();

/** The spawner process (git/spawner-child.ts), started on first use and again if it died. */
function current(): ChildProcess {
  if (spawner?.connected) return spawner;
  // No inherited execArgv: a profiler's or test runner's flags are not for it.
  const child = fork(script, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
  child.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    if (!waiter || !waiter.reply(reply)) return;
    pending.delete(reply.id);
    if (![...pending.values()].some((w) => w.child === child)) child.channel?.unref();
  });
  child.on('exit', () => {
    if (spawner === child) spawner = null;
    for (const [id, waiter] of pending) {
      if (waiter.child !== child) continue;
      pending.delete(id);
      waiter.fail(new SpawnerExited());
    }
  });
  // It never keeps its parent alive by itself: only while a command is under way.
  child.unref();
  child.channel?.unref();
  spawner = child;
  return child;
}

function send(request: Request, reply: (r: Reply) => boolean, fail: (e: Error) => void): void {
  const child = current();
  const id = nextId++;
  pending.set(id, { child, reply, fail });
  child.channel?.ref();
  child.send({ id, ...request }, (err) => {
    if (!err || !pending.delete(id)) return;
    // The channel closed under this request: the spawner is gone, though its exit may not
    // have been seen yet (a write to a pipe whose reader died fails with EPIPE first).
    const gone = !child.connected || ['EPIPE', 'ECONNRESET', 'ERR_IPC_CHANNEL_CLOSED'].includes((err as NodeJS.ErrnoException).code ?? '');
    if (gone && spawner === child) spawner = null;
    fail(gone ? new SpawnerExited() : err);
  });
}

function runOnce(file: string, args: string[], opts: { cwd?: string; env: Record<string, string>; input?: string }): Promise<Spawned> {
  return new Promise<Spawned>((resolve, reject) => send({ file, args, ...opts }, (r) => {
    if (r.error !== undefined) reject(new Error(r.error));
    else resolve({ exitCode: r.exitCode ?? -1, stdout: Buffer.from(r.stdout!), stderr: Buffer.from(r.stderr!) });
    return true;
  }, reject));
}

/**
 * Runs `file` through the spawner and answers its exit code and output. A
 * command caught by the spawner's death (the OOM killer, say) runs once more
 * through a new one: git's commands here are safe to run again.
 */
export async function spawnThrough(file: string, args: string[], opts: { cwd?: string; env: Record<string, string>; input?: string }): Promise<Spawned> {
  try {
    return await runOnce(file, args, opts);
  } catch (err) {
    if (!(err instanceof SpawnerExited)) throw err;
    return runOnce(file, args, opts);
  }
}

export interface StreamedExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** It could not be started, or the spawner died under it (and it with it). */
  error: string | null;
}

/**
 * Starts `file` through the spawner in a process group of its own, with
 * stdin closed, and streams its stdout and stderr as they come. Never run
 * again: a step need not be safe to repeat.
 */
export function streamThrough(file: string, args: string[], opts: { cwd?: string; env: Record<string, string> }, handlers: { pid(pid: number): void; output(chunk: Buffer): void }): Promise<StreamedExit> {
  return new Promise<StreamedExit>((resolve) => send({ file, args, ...opts, stream: true }, (r) => {
    if (r.pid !== undefined) handlers.pid(r.pid);
    else if (r.chunk !== undefined) handlers.output(Buffer.from(r.chunk));
    else {
      resolve({ exitCode: r.exitCode ?? null, signal: r.signal ?? null, error: r.error ?? null });
      return true;
    }
    return false;
  }, (err) => resolve({ exitCode: null, signal: null, error: err.message })));
}

import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Spawned { exitCode: number; stdout: Buffer; stderr: Buffer }
interface Reply { id: number; error?: string; exitCode?: number; stdout?: Buffer; stderr?: Buffer }

const here = fileURLToPath(import.meta.url);
// spawner-child.ts from a checkout, spawner-child.js from the built package.
const script = path.join(path.dirname(here), `spawner-child${path.extname(here)}`);

class SpawnerExited extends Error {
  constructor() { super('the git spawner process exited'); }
}

let spawner: ChildProcess | null = null;
let nextId = 1;
// Requests under way, each with the spawner it went to.
const pending = new Map<number, { child: ChildProcess; resolve: (s: Spawned) => void; reject: (e: Error) => void }>();

/** The spawner process (git/spawner-child.ts), started on first use and again if it died. */
function current(): ChildProcess {
  if (spawner?.connected) return spawner;
  // No inherited execArgv: a profiler's or test runner's flags are not for it.
  const child = fork(script, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
  child.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (![...pending.values()].some((w) => w.child === child)) child.channel?.unref();
    if (reply.error !== undefined) waiter.reject(new Error(reply.error));
    else waiter.resolve({ exitCode: reply.exitCode!, stdout: Buffer.from(reply.stdout!), stderr: Buffer.from(reply.stderr!) });
  });
  child.on('exit', () => {
    if (spawner === child) spawner = null;
    for (const [id, waiter] of pending) {
      if (waiter.child !== child) continue;
      pending.delete(id);
      waiter.reject(new SpawnerExited());
    }
  });
  // It never keeps its parent alive by itself: only while a command is under way.
  child.unref();
  child.channel?.unref();
  spawner = child;
  return child;
}

/**
 * Runs `file` through the spawner and answers its exit code and output. A
 * command caught by the spawner's death (the OOM killer, say) runs once more
 * through a new one: git's commands here are safe to run again.
 */
export async function spawnThrough(file: string, args: string[], opts: { cwd?: string; env: Record<string, string>; input?: string }): Promise<Spawned> {
  try {
    return await sendRequest(file, args, opts);
  } catch (err) {
    if (!(err instanceof SpawnerExited)) throw err;
    return sendRequest(file, args, opts);
  }
}

function sendRequest(file: string, args: string[], opts: { cwd?: string; env: Record<string, string>; input?: string }): Promise<Spawned> {
  const child = current();
  const id = nextId++;
  return new Promise<Spawned>((resolve, reject) => {
    pending.set(id, { child, resolve, reject });
    child.channel?.ref();
    child.send({ id, file, args, ...opts }, (err) => {
      if (!err || !pending.delete(id)) return;
      // The channel closed under this request: the spawner is gone, though its exit may not
      // have been seen yet (a write to a pipe whose reader died fails with EPIPE first).
      const gone = !child.connected || ['EPIPE', 'ECONNRESET', 'ERR_IPC_CHANNEL_CLOSED'].includes((err as NodeJS.ErrnoException).code ?? '');
      if (gone && spawner === child) spawner = null;
      reject(gone ? new SpawnerExited() : err);
    });
  });
}

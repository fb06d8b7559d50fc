import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Spawned { exitCode: number; stdout: Buffer; stderr: Buffer }
interface Reply { id: number; error?: string; exitCode?: number | null; signal?: NodeJS.Signals | null; stdout?: Buffer; stderr?: Buffer; pid?: number; chunk?: Buffer }
interface Request { file: string; args: string[]; cwd?: string; env: Record<string, string>; input?: string; stream?: boolean; serve?: boolean; output?: string }

const here = fileURLToPath(import.meta.url);
// spawner-child.ts from a checkout, spawner-child.js from the built package.
const script = path.join(path.dirname(here), `spawner-child${path.extname(here)}`);

class SpawnerExited extends Error {
  constructor() { super('the spawner process exited'); }
}

let spawner: ChildProcess | null = null;
let nextId = 1;
// Requests under way, each with the spawner it went to. `reply` answers true on the request's last reply.
// A `background` one (a long-lived reader) does not keep this process alive.
const pending = new Map<number, { child: ChildProcess; reply: (r: Reply) => boolean; fail: (e: Error) => void; background: boolean }>();

/** The channel keeps this process alive only while a request that is not in the background is under way. */
function refreshRef(child: ChildProcess): void {
  if ([...pending.values()].some((w) => w.child === child && !w.background)) child.channel?.ref();
  else child.channel?.unref();
}

/** The spawner process (git/spawner-child.ts), started on first use and again if it died. */
function current(): ChildProcess {
  if (spawner?.connected) return spawner;
  // No inherited execArgv: a profiler's or test runner's flags are not for it.
  const child = fork(script, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
  child.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    if (!waiter || !waiter.reply(reply)) return;
    pending.delete(reply.id);
    refreshRef(child);
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

function send(request: Request, reply: (r: Reply) => boolean, fail: (e: Error) => void, background = false): { child: ChildProcess; id: number } {
  const child = current();
  const id = nextId++;
  pending.set(id, { child, reply, fail, background });
  refreshRef(child);
  child.send({ id, ...request }, (err) => {
    if (!err || !pending.delete(id)) return;
    // The channel closed under this request: the spawner is gone, though its exit may not
    // have been seen yet (a write to a pipe whose reader died fails with EPIPE first).
    const gone = !child.connected || ['EPIPE', 'ECONNRESET', 'ERR_IPC_CHANNEL_CLOSED'].includes((err as NodeJS.ErrnoException).code ?? '');
    if (gone && spawner === child) spawner = null;
    fail(gone ? new SpawnerExited() : err);
  });
  return { child, id };
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

// How long a step's output may stay open after the step exited: what its process group left
// behind was killed with it, so only a process that escaped the group (and its namespace) holds it.
const OUTPUT_GRACE_MS = 5_000;

/**
 * A socket of this process's own for one step's output, at a path in a
 * private directory: the spawner connects to it and gives it to the step as
 * stdout and stderr, so the output comes straight here rather than through
 * the spawner's channel (a copy, a serialization and a parse per chunk in
 * two processes: most of the cost of a chatty step, bench:logs). The first
 * connection is the spawner's; the path is gone once it is made.
 */
async function outputSocket(): Promise<{ path: string; connected: Promise<Socket>; close(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'forgeline-out-'));
  const at = path.join(dir, 'out.sock');
  const server = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(at, resolve));
  const connected = new Promise<Socket>((resolve) => server.once('connection', (socket: Socket) => {
    server.close();
    server.on('connection', (other: Socket) => other.destroy());
    void rm(dir, { recursive: true, force: true });
    resolve(socket);
  }));
  return { path: at, connected, close: async () => { server.close(); await rm(dir, { recursive: true, force: true }); } };
}

/**
 * Starts `file` through the spawner in a process group of its own, with
 * stdin closed, and streams its stdout and stderr as they come: over a
 * socket of this process (outputSocket), or through the spawner where one
 * cannot be made. Answers once it exited and its output ended. Never run
 * again: a step need not be safe to repeat.
 */
export async function streamThrough(file: string, args: string[], opts: { cwd?: string; env: Record<string, string> }, handlers: { pid(pid: number): void; output(chunk: Buffer): void }): Promise<StreamedExit> {
  const socket = await outputSocket().catch(() => null);
  let outputEnded: Promise<void> = Promise.resolve();
  let stopReading = () => {};
  if (socket) {
    outputEnded = socket.connected.then((connection) => new Promise<void>((resolve) => {
      connection.on('data', (chunk: Buffer) => handlers.output(chunk));
      connection.on('error', () => resolve());
      connection.on('close', () => resolve());
      stopReading = () => connection.destroy();
      connection.resume();
    }));
  }
  const exit = await new Promise<StreamedExit>((resolve) => send({ file, args, ...opts, stream: true, output: socket?.path }, (r) => {
    if (r.pid !== undefined) handlers.pid(r.pid);
    else if (r.chunk !== undefined) handlers.output(Buffer.from(r.chunk));
    else {
      resolve({ exitCode: r.exitCode ?? null, signal: r.signal ?? null, error: r.error ?? null });
      return true;
    }
    return false;
  }, (err) => resolve({ exitCode: null, signal: null, error: err.message })));
  if (socket) {
    // Not started, or the spawner died before it connected: nothing will come.
    const connected = await Promise.race([socket.connected.then(() => true), new Promise<false>((r) => setTimeout(r, exit.error ? 0 : OUTPUT_GRACE_MS, false))]);
    if (!connected) await socket.close();
    else {
      const timer = setTimeout(stopReading, OUTPUT_GRACE_MS);
      await outputEnded;
      clearTimeout(timer);
    }
  }
  return exit;
}

export interface Served {
  /** Writes to the command's stdin. */
  write(input: string): void;
  /** While true, the command keeps this process alive (an answer is awaited). */
  busy(awaiting: boolean): void;
  /** Closes its stdin: it ends. */
  end(): void;
  exited: Promise<StreamedExit>;
}

/**
 * Starts a long-lived `file` through the spawner, fed through its stdin with
 * `write`, its stdout streamed to `output` (stderr dropped). It keeps this
 * process alive only while `busy`, and it ends with the spawner.
 */
export function serveThrough(file: string, args: string[], opts: { cwd?: string; env: Record<string, string> }, output: (chunk: Buffer) => void): Served {
  let sent!: { child: ChildProcess; id: number };
  const exited = new Promise<StreamedExit>((resolve) => {
    sent = send({ file, args, ...opts, serve: true }, (r) => {
      if (r.chunk !== undefined) {
        output(Buffer.from(r.chunk));
        return false;
      }
      resolve({ exitCode: r.exitCode ?? null, signal: r.signal ?? null, error: r.error ?? null });
      return true;
    }, (err) => resolve({ exitCode: null, signal: null, error: err.message }), true);
  });
  const feed = (input: string | null) => {
    if (sent.child.connected) sent.child.send({ id: sent.id, feed: input }, () => {});
  };
  const busy = (awaiting: boolean) => {
    const waiter = pending.get(sent.id);
    if (!waiter) return;
    waiter.background = !awaiting;
    refreshRef(sent.child);
  };
  return { write: (input) => feed(input), end: () => feed(null), busy, exited };
}

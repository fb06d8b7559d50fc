// The spawner: a small, long-lived process that starts git commands and
// steps for the process that forked it, so that each start forks this small
// process rather than a worker of some 240 MB (bench/spawn-cost.ts: 2.3
// against 7.8 ms). It lives as long as its parent: the end of the IPC
// channel ends it, and the steps it started see it die (their parent-death
// signal). Signals for the parent's process group (Ctrl-C, a service
// manager's SIGTERM) are left to the parent, which may still need git while
// it shuts down.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { execa } from 'execa';

interface Request { id: number; file: string; args: string[]; cwd?: string; env: Record<string, string>; input?: string; stream?: boolean; serve?: boolean; output?: string }
/** More input for a command started with `serve`, or the end of it. */
interface Feed { id: number; feed: string | null }

process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});

// The process groups of the steps started here, until they exit.
const stepGroups = new Set<number>();

// The parent is gone: its steps go with it. Their parent-death signal does it too, but a step
// the worker held (SIGSTOP) would keep that signal pending, stopped forever.
process.on('disconnect', () => {
  for (const pid of stepGroups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  process.exit(0);
});

/** A git command: its whole output in one answer. */
function run(req: Request): void {
  const child = spawn(req.file, req.args, { cwd: req.cwd, env: req.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => {});
  child.on('error', (e) => process.send?.({ id: req.id, error: e.message }));
  child.on('close', (code) => process.send?.({ id: req.id, exitCode: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
  child.stdin.end(req.input ?? '');
}

/**
 * A step, in a process group of its own, stdin closed: its pid first, then
 * how it ended. Its stdout and stderr are the parent's socket at
 * `req.output`, which reads them itself; without one, its output comes
 * through here, as it comes.
 */
function stream(req: Request): void {
  if (!req.output) return streamHere(req);
  // Else the spawn's ENOENT would name the program, not the directory.
  if (req.cwd && !existsSync(req.cwd)) {
    process.send?.({ id: req.id, error: `cwd ${req.cwd} does not exist` });
    return;
  }
  const socket = connect(req.output);
  socket.once('error', (e) => process.send?.({ id: req.id, error: `the step's output could not be connected: ${e.message}` }));
  socket.once('connect', () => {
    // The step's own copy of the socket is its stdout and stderr; this process keeps none
    // (destroy closes this copy without ending the connection, which the step holds).
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(req.file, req.args, { cwd: req.cwd, env: req.env, detached: true, stdio: ['ignore', socket, socket] });
    } catch (e) {
      socket.destroy();
      process.send?.({ id: req.id, error: String((e as Error).message).split('\n')[0] });
      return;
    }
    child.on('spawn', () => {
      socket.destroy();
      stepGroups.add(child.pid!);
      process.send?.({ id: req.id, pid: child.pid });
    });
    child.on('error', (e) => {
      socket.destroy();
      process.send?.({ id: req.id, error: e.message.split('\n')[0] });
    });
    // What the step left running in its group dies with it, which closes its copies of the output.
    child.on('exit', (code, signal) => {
      stepGroups.delete(child.pid!);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Nothing left.
      }
      process.send?.({ id: req.id, exitCode: code, signal });
    });
  });
}

/** A step whose output comes through here: started with execa, its output sent as it comes. */
function streamHere(req: Request): void {
  const child = execa(req.file, req.args, { cwd: req.cwd, env: req.env, extendEnv: false, detached: true, reject: false, stdin: 'ignore', buffer: false });
  const node = child.nodeChildProcess;
  node.on('spawn', () => {
    stepGroups.add(child.pid!);
    process.send?.({ id: req.id, pid: child.pid });
  });
  const forward = (chunk: Buffer) => process.send?.({ id: req.id, chunk });
  child.stdout!.on('data', forward);
  child.stderr!.on('data', forward);
  // What the step left running in its group dies with it: its output pipes then close, and
  // the result comes once everything it wrote has been read.
  node.on('exit', () => {
    stepGroups.delete(child.pid!);
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Nothing left.
    }
  });
  void child.then((result) => process.send?.({
    id: req.id,
    ...(result.exitCode === undefined && !result.signal
      ? { error: String(result.originalMessage ?? result.message ?? 'could not start').split('\n')[0] }
      : { exitCode: result.exitCode ?? null, signal: result.signal ?? null }),
  }));
}

// Commands started with `serve`, by request id, until they exit.
const serving = new Map<number, ReturnType<typeof spawn>>();

/** A long-lived command fed over the channel (git cat-file --batch): its stdout as it comes, then how it ended. */
function serve(req: Request): void {
  const child = spawn(req.file, req.args, { cwd: req.cwd, env: req.env, stdio: ['pipe', 'pipe', 'ignore'] });
  serving.set(req.id, child);
  let ended = false;
  const end = (reply: object) => {
    if (ended) return;
    ended = true;
    serving.delete(req.id);
    process.send?.({ id: req.id, ...reply });
  };
  child.stdin!.on('error', () => {});
  child.stdout!.on('data', (chunk: Buffer) => process.send?.({ id: req.id, chunk }));
  child.on('error', (e) => end({ error: e.message }));
  child.on('close', (code, signal) => end({ exitCode: code, signal }));
}

function feed(f: Feed): void {
  const child = serving.get(f.id);
  if (f.feed === null) child?.stdin!.end();
  else child?.stdin!.write(f.feed);
}

process.on('message', (msg: Request | Feed) => {
  if ('feed' in msg) feed(msg);
  else if (msg.serve) serve(msg);
  else if (msg.stream) stream(msg);
  else run(msg);
});

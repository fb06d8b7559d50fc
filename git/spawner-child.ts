// The spawner: a small, long-lived process that starts git commands for the
// process that forked it, so that each start forks this small process rather
// than a worker of some 240 MB (bench/spawn-cost.ts: 2.3 against 7.8 ms).
// It lives as long as its parent: the end of the IPC channel ends it. Signals
// for the parent's process group (Ctrl-C, a service manager's SIGTERM) are
// left to the parent, which may still need git while it shuts down.
import { spawn } from 'node:child_process';

interface Request { id: number; file: string; args: string[]; cwd?: string; env: Record<string, string>; input?: string }

process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('disconnect', () => process.exit(0));
process.on('message', (req: Request) => {
  const child = spawn(req.file, req.args, { cwd: req.cwd, env: req.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdin.on('error', () => {});
  child.on('error', (e) => process.send?.({ id: req.id, error: e.message }));
  child.on('close', (code) => process.send?.({ id: req.id, exitCode: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
  child.stdin.end(req.input ?? '');
});

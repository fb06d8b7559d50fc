import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../git/index.ts';
import { spawnStep } from '../runners/index.ts';
import { readFileSync } from 'node:fs';
import { alive, hostPid, processState } from './helpers/process.ts';
import { waitFor } from './helpers/forgeline.ts';

const gitIndex = fileURLToPath(new URL('../git/index.ts', import.meta.url));

/** The spawner processes whose parent is `pid`. */
/** The pids above a process, its parent first. */
function ancestorsOf(pid: number): number[] {
  const up: number[] = [];
  for (let at = pid; at > 1;) {
    const stat = readFileSync(`/proc/${at}/stat`, 'utf8');
    at = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    up.push(at);
  }
  return up;
}

async function spawnersOf(pid: number): Promise<number[]> {
  const { stdout } = await execa('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { reject: false });
  return stdout.split('\n').filter((l) => l.includes('spawner-child')).map((l) => Number(l.trim().split(/\s+/)[0]));
}

describe('git through the spawner process', () => {
  let scratch: string;
  beforeAll(async () => { scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-spawner-')); });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it('answers output, input and failures as git gave them, and starts again after it died', async () => {
    const repo = path.join(scratch, 'r.git');
    await git(['init', '--quiet', '--bare', repo]);
    const blob = (await git(['hash-object', '-w', '--stdin'], { cwd: repo, input: 'hello\n' })).trim();
    expect(await git(['cat-file', '-p', blob], { cwd: repo })).toBe('hello\n');
    await expect(git(['cat-file', '-p', 'f'.repeat(40)], { cwd: repo })).rejects.toThrow(/git cat-file failed \(128\): fatal: /);
    const [spawner] = await spawnersOf(process.pid);
    expect(spawner).toBeGreaterThan(0);
    process.kill(spawner!, 'SIGKILL');
    await waitFor(async () => (alive(spawner!) ? undefined : true), 'the spawner to die');
    expect(await git(['cat-file', '-t', blob], { cwd: repo })).toBe('blob\n');
    expect((await spawnersOf(process.pid)).filter((p) => p !== spawner)).toHaveLength(1);
  });

  it('neither keeps its parent alive nor outlives it, and leaves SIGTERM to the parent', async () => {
    const script = path.join(scratch, 'uses-git.ts');
    await writeFile(script, `import { git } from ${JSON.stringify(gitIndex)};\nawait git(['--version']);\nconsole.log(process.pid);\n` +
      `if (process.argv[2] === 'stay') { process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); }\n`);
    // Done with git, the process ends by itself.
    const done = await execa(process.execPath, [script], { timeout: 10_000 });
    expect(done.exitCode).toBe(0);
    // A process killed with SIGKILL takes its spawner with it; a SIGTERM to the group leaves the spawner up.
    const staying = execa(process.execPath, [script, 'stay'], { reject: false });
    const pid = await new Promise<number>((resolve) => staying.stdout!.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
    const [spawner] = await spawnersOf(pid);
    process.kill(spawner!, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(spawner!)).toBe(true);
    staying.kill('SIGKILL');
    await staying;
    await waitFor(async () => (alive(spawner!) ? undefined : true), 'the spawner to end with its parent', 5000);
  });

  it('kills the steps of a worker that dies while it holds them (stopped, their parent-death signal would wait)', async () => {
    const script = path.join(scratch, 'holds-a-step.ts');
    const pidFile = path.join(scratch, 'held.pid');
    await writeFile(script, `import { existsSync, readFileSync } from 'node:fs';
import { processRunner, spawnStep } from ${JSON.stringify(fileURLToPath(new URL('../runners/index.ts', import.meta.url)))};
spawnStep({ run: 'echo $$ > ${pidFile}; sleep 300', cwd: ${JSON.stringify(scratch)}, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', FORGELINE_TEST: 'held' } });
while (!(existsSync(${JSON.stringify(pidFile)}) && readFileSync(${JSON.stringify(pidFile)}, 'utf8').endsWith('\\n'))) await new Promise((r) => setTimeout(r, 20));
processRunner.hold!(true);
console.log('held');
setInterval(() => {}, 1000);
`);
    const worker = execa(process.execPath, [script], { reject: false });
    await new Promise<void>((resolve) => worker.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('held')) resolve(); }));
    const step = hostPid(Number((await execa('cat', [pidFile])).stdout), 'FORGELINE_TEST=held')!;
    expect(step).not.toBeNull();
    await waitFor(async () => (processState(step) === 'T' ? true : undefined), 'the step to be stopped', 5000);
    worker.kill('SIGKILL');
    await worker;
    await waitFor(async () => (alive(step) ? undefined : true), 'the held step to die with its worker', 5000);
  });

  it('starts steps too: its child, in a group of their own, output streamed as it comes, and nothing left running once they exit', async () => {
    const chunks: string[] = [];
    const pidFile = path.join(scratch, 'left.pid');
    const step = spawnStep({
      run: `echo oops >&2; sleep 300 & echo $! > ${pidFile}; sleep 1; exit 3`,
      cwd: scratch, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', FORGELINE_TEST: 'left' }, onOutput: (c) => chunks.push(c.toString()),
    });
    // While it runs: the step descends from the spawner, not from this process directly.
    const [spawner] = await spawnersOf(process.pid);
    const left = await waitFor(async () => hostPid(Number((await execa('cat', [pidFile], { reject: false })).stdout || -1), 'FORGELINE_TEST=left') ?? undefined, 'the step to start');
    expect(ancestorsOf(left)).toContain(spawner);
    const exited = await step.exited;
    expect(exited).toEqual({ exitCode: 3, signal: null, error: null });
    expect(chunks.join('')).toContain('oops');
    // The background sleep died with its step, though the step never waited for it.
    await waitFor(async () => (alive(left) ? undefined : true), 'the step\'s background process to die', 5000);
    // A step killed before it has even started is killed once it has; one that cannot start says why.
    const killed = spawnStep({ run: 'sleep 300', cwd: scratch, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    killed.kill();
    expect(await killed.exited).toEqual({ exitCode: null, signal: 'SIGKILL', error: null });
    const nowhere = await spawnStep({ run: 'true', cwd: path.join(scratch, 'missing'), env: {} }).exited;
    expect(nowhere.error).toMatch(/cwd.*missing/);
  });

  it('gives a step\'s output to the worker whole and in order, straight from the step rather than through the spawner', async () => {
    const chunks: Buffer[] = [];
    // 200,000 lines, about 1.3 MB, on stdout and stderr both: more than any pipe or socket buffer holds.
    const step = spawnStep({
      run: 'readlink /proc/self/fd/1; seq 1 100000; seq 100001 200000 >&2',
      cwd: scratch, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, onOutput: (c) => chunks.push(c),
    });
    expect(await step.exited).toEqual({ exitCode: 0, signal: null, error: null });
    const [stdout, ...lines] = Buffer.concat(chunks).toString().split('\n');
    // A socket of this process's own, not a pipe of the spawner's.
    expect(stdout).toMatch(/^socket:\[\d+\]$/);
    expect(lines.length).toBe(200_001);
    expect(lines.slice(0, 200_000).every((line, i) => line === String(i + 1))).toBe(true);
  });
});

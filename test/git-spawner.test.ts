import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../git/index.ts';
import { spawnStep } from '../runners/index.ts';
import { alive } from './helpers/process.ts';
import { waitFor } from './helpers/forgeline.ts';

const gitIndex = fileURLToPath(new URL('../git/index.ts', import.meta.url));

/** The spawner processes whose parent is `pid`. */
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

  it('starts steps too: its child, in a group of their own, output streamed as it comes, and nothing left running once they exit', async () => {
    const chunks: string[] = [];
    const pidFile = path.join(scratch, 'left.pid');
    const step = spawnStep({
      // $$ is the wrapper, which leads the step's group; the step is its subshell.
      run: `echo "wrapper's parent: $(ps -o ppid= -p $$ | tr -d ' ')"; echo "group: $(ps -o pgid= -p $BASHPID | tr -d ' ') led by $$"; echo oops >&2; sleep 300 & echo $! > ${pidFile}; exit 3`,
      cwd: scratch, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, onOutput: (c) => chunks.push(c.toString()),
    });
    const exited = await step.exited;
    expect(exited).toEqual({ exitCode: 3, signal: null, error: null });
    const [spawner] = await spawnersOf(process.pid);
    const output = chunks.join('');
    expect(output).toContain(`wrapper's parent: ${spawner}`);
    expect(output).toMatch(/group: (\d+) led by \1\n/);
    expect(output).toContain('oops');
    // The background sleep died with its step, though the step never waited for it.
    const left = Number((await execa('cat', [pidFile])).stdout);
    await waitFor(async () => (alive(left) ? undefined : true), 'the step\'s background process to die', 5000);
    // A step killed before it has even started is killed once it has; one that cannot start says why.
    const killed = spawnStep({ run: 'sleep 300', cwd: scratch, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    killed.kill();
    expect(await killed.exited).toEqual({ exitCode: null, signal: 'SIGKILL', error: null });
    const nowhere = await spawnStep({ run: 'true', cwd: path.join(scratch, 'missing'), env: {} }).exited;
    expect(nowhere.error).toMatch(/cwd.*missing/);
  });

  it('runs a step as `bash -eo pipefail -c` would, though in a subshell of the wrapper', async () => {
    const run = async (script: string) => {
      const chunks: string[] = [];
      const step = spawnStep({ run: script, cwd: scratch, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, onOutput: (c) => chunks.push(c.toString()) });
      return { ...(await step.exited), output: chunks.join('') };
    };
    // No positional parameters, $0 as bash's, and none of the wrapper's traps.
    expect(await run('echo "$# [$1] $0"; trap -p TERM; echo "options $-"')).toMatchObject({ exitCode: 0, output: '0 [] bash\noptions ehBc\n' });
    // errexit and pipefail, each with the failing command's status.
    expect(await run('echo one\nfalse\necho never')).toMatchObject({ exitCode: 1, output: 'one\n' });
    expect(await run('false | true\necho never')).toMatchObject({ exitCode: 1, output: '' });
    expect(await run('exit 7')).toMatchObject({ exitCode: 7 });
    // Errors name the script's own line, as bash -c's do.
    const missing = await run('true\n\nno-such-command-here\necho never');
    expect(missing).toMatchObject({ exitCode: 127 });
    expect(missing.output).toMatch(/^bash: line 3: no-such-command-here: command not found\n$/);
    const broken = await run('echo fine\nif true; then');
    expect(broken.exitCode).toBe(2);
    expect(broken.output).toMatch(/line 3: syntax error: unexpected end of file/);
  });
});

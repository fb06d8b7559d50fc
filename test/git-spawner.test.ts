import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../git/index.ts';
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
});

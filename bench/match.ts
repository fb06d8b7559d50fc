// npm run bench:match — parse + validate + match of a repository with 50
// pipeline files of 20 stages against an event, cold and warm (parsed files
// cached by blob), next to `git cat-file` reading the same files: the floor.
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { git } from '../git/index.ts';
import { explainEvent, loadPipelines } from '../pipelines/index.ts';
import { localRepoView } from '../scheduler/index.ts';
import { blankEvent } from '../providers/event.ts';

const FILES = 50;
const STAGES = 20;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);

function pipelineFile(i: number): string {
  const stages = Array.from({ length: STAGES }, (_, s) => `  s${s}:
    ${s ? `needs: [s${s - 1}]\n    ` : ''}if: event.kind == "push" && event.branch != "gh-pages"
    timeout: 15m
    env: { STAGE: "s${s}" }
    steps:
      - run: echo building ${i}-${s}
      - name: test
        run: make test
        working-directory: pkg${s}
`).join('');
  return `name: p${i}
on:
  push:
    branches: [main, "release/**", "!release/old"]
    paths: ["src/**", "pkg${i}/**"]
  pull_request:
    types: [opened, synchronize]
if: event.pullRequest == null || !event.pullRequest.draft
env: { NODE_ENV: test }
stages:
${stages}`;
}

const root = await mkdtemp(path.join(tmpdir(), 'forgeline-bench-match-'));
await mkdir(path.join(root, '.forgeline'));
for (let i = 0; i < FILES; i++) await writeFile(path.join(root, '.forgeline', `p${i}.yml`), pipelineFile(i));
await mkdir(path.join(root, 'src'));
await writeFile(path.join(root, 'src', 'a.c'), 'int a;');
const identity = ['user.name=bench', 'user.email=bench@forgeline.invalid'];
await git(['init', '--quiet', '--initial-branch=main', root]);
await git(['add', '-A'], { cwd: root });
await git(['commit', '--quiet', '-m', 'base'], { cwd: root, config: identity });
const before = (await git(['rev-parse', 'HEAD'], { cwd: root })).trim();
await writeFile(path.join(root, 'src', 'a.c'), 'int a = 1;');
await git(['commit', '--quiet', '-am', 'change'], { cwd: root, config: identity });
const sha = (await git(['rev-parse', 'HEAD'], { cwd: root })).trim();

const event = blankEvent('github', 'push', 'acme/bench', null);
Object.assign(event, { ref: 'refs/heads/main', branch: 'main', sha, before, message: 'change' });
const repo = await localRepoView(root);

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// The floor: git listing and reading the same 50 blobs, as one batch.
const blobs = (await git(['ls-tree', sha, '.forgeline/'], { cwd: root })).trim().split('\n').map((l) => l.split(/\s+/)[2]!);
const floor: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  floor.push(await time(async () => {
    await git(['ls-tree', '-z', sha, '.forgeline/'], { cwd: root });
    await execa('git', ['cat-file', '--batch'], { cwd: root, input: blobs.join('\n') });
  }));
}

const cold = await time(async () => explainEvent(repo, event, {}, await loadPipelines(repo, sha)));
const warm: number[] = [];
let triggered = 0;
for (let r = 0; r < ROUNDS; r++) {
  warm.push(await time(async () => {
    const entry = await explainEvent(repo, event, {}, await loadPipelines(repo, sha));
    triggered = entry.pipelines.filter((p) => p.triggered).length;
  }));
}

console.log(`match benchmark: ${FILES} pipeline files of ${STAGES} stages, one push event (${triggered} pipelines triggered), ${ROUNDS} rounds`);
console.log(`floor (git ls-tree + cat-file --batch of the files): ${median(floor).toFixed(1)} ms`);
console.log(`cold (read, parse, validate, match):               ${cold.toFixed(1)} ms  (${(cold / median(floor)).toFixed(1)}× the floor)`);
console.log(`warm (read, cached by blob, match):                ${median(warm).toFixed(1)} ms  (${(median(warm) / median(floor)).toFixed(1)}× the floor)`);

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crossFileProblems, decideStage, explainStages, formatProblem, parsePipelineFile, PIPELINE_DIR, PIPELINE_FILE, type Pipeline } from '../pipelines/index.ts';
import { localEvent } from '../providers/event.ts';
import { processRunner, stepEnvironment, type StageOutcome } from '../runners/index.ts';
import { git, gitDirOf, resolveLocalCommit } from '../git/index.ts';

export class ExecError extends Error {}

export interface ExecOptions {
  dir: string;
  pipeline?: string;
  stage?: string;
  event: 'push' | 'pull_request' | 'manual';
  inputs?: Record<string, string>;
  out: (chunk: string) => void;
}

async function localPipelines(dir: string): Promise<Pipeline[]> {
  const folder = path.join(dir, PIPELINE_DIR);
  const files = (await readdir(folder).catch(() => [] as string[])).filter((f) => PIPELINE_FILE.test(f)).sort();
  if (!files.length) throw new ExecError(`no pipeline files in ${folder}`);
  const pipelines: Pipeline[] = [];
  const problems: string[] = [];
  for (const f of files) {
    const parsed = parsePipelineFile(path.posix.join(PIPELINE_DIR, f), await readFile(path.join(folder, f), 'utf8'));
    problems.push(...parsed.problems.map(formatProblem));
    if (parsed.pipeline) pipelines.push(parsed.pipeline);
  }
  problems.push(...crossFileProblems(pipelines).map(formatProblem));
  if (problems.length) throw new ExecError(problems.join('\n'));
  return pipelines;
}

/** Stages in an order that respects `needs`. */
function ordered(p: Pipeline): string[] {
  const done: string[] = [];
  while (done.length < p.stages.length) {
    for (const s of p.stages) if (!done.includes(s.name) && s.needs.every((n) => done.includes(n))) done.push(s.name);
  }
  return done;
}

type Result = { stage: string; status: string; reason: string | null };

/**
 * `forgeline exec`: runs a pipeline from the working tree with the same
 * runner and variables as a worker, without a server or a database, so a
 * pipeline can be tried before it is pushed. Steps run in the working tree
 * itself (like a local build); secrets are not available.
 */
export async function execLocally(opts: ExecOptions): Promise<{ pipeline: string; results: Array<{ stage: string; status: string; reason: string | null }> }> {
  const pipelines = await localPipelines(opts.dir);
  const pipeline = opts.pipeline ? pipelines.find((p) => p.name === opts.pipeline) : pipelines[0];
  if (!pipeline) throw new ExecError(`no pipeline ${opts.pipeline} (pipelines: ${pipelines.map((p) => p.name).join(', ')})`);
  if (opts.stage && !pipeline.stages.some((s) => s.name === opts.stage)) throw new ExecError(`pipeline ${pipeline.name} has no stage ${opts.stage}`);

  let sha: string | null = null;
  let branch: string | null = null;
  try {
    const gitDir = await gitDirOf(opts.dir);
    sha = await resolveLocalCommit(gitDir, 'HEAD');
    branch = (await git(['symbolic-ref', '--short', '-q', 'HEAD'], { cwd: opts.dir }).catch(() => '')).trim() || null;
  } catch {
    // Not a git repository: the variables about the commit stay empty.
  }
  const kind = opts.event === 'pull_request' ? 'pull_request' : opts.event;
  const event = localEvent(kind, path.basename(path.resolve(opts.dir)));
  Object.assign(event, { sha, branch, ref: branch ? `refs/heads/${branch}` : null, sender: process.env.USER ?? null });
  if (kind === 'pull_request') {
    event.action = 'synchronize';
    event.pullRequest = { number: 0, title: 'local', labels: [], draft: false, headRef: branch ?? '', headSha: sha ?? '', headRepo: null, baseRef: 'main', fromFork: false, mergeSha: null };
  }
  const verdicts = new Map(explainStages(pipeline, event, {}).map((v) => [v.name, v]));
  const home = await mkdtemp(path.join(tmpdir(), 'forgeline-exec-home-'));
  const results: Result[] = [];
  try {
    for (const name of ordered(pipeline)) {
      if (opts.stage && name !== opts.stage) continue;
      const stage = pipeline.stages.find((s) => s.name === name)!;
      // As the scheduler decides: the condition known at planning, then the needs' results.
      const verdict = verdicts.get(name)!;
      const decision = opts.stage ? { run: true as const }
        : !verdict.runs ? { run: false as const, status: 'skipped', reason: verdict.reason }
        : await decideStage(stage, new Map(results.map((r) => [r.stage, r.status])), event, () => null);
      if (!decision.run) {
        opts.out(`── ${name}: ${decision.status} (${decision.reason})\n`);
        results.push({ stage: name, status: decision.status, reason: decision.reason });
        continue;
      }
      // As a worker does: a failed attempt is tried again while `retries` allow.
      let outcome!: StageOutcome;
      for (let attempt = 1; attempt <= stage.retries + 1; attempt++) {
        opts.out(`── ${name}${attempt > 1 ? ` (attempt ${attempt})` : ''}\n`);
        const ciEnv = stepEnvironment({ event, runId: 0, runUrl: '', attempt, stage: name, environment: stage.environment, inputs: opts.inputs }, home);
        outcome = await processRunner.run({ workdir: opts.dir, steps: stage.steps, env: { ...pipeline.env, ...stage.env }, ciEnv, timeoutMs: stage.timeoutMs, log: opts.out });
        if (outcome.status !== 'failure') break;
      }
      opts.out(`── ${name}: ${outcome.status}${outcome.reason ? ` (${outcome.reason})` : ''}\n`);
      results.push({ stage: name, status: outcome.status, reason: outcome.reason });
    }
  } finally {
    await rm(home, { recursive: true, force: true });
  }
  return { pipeline: pipeline.name, results };
}

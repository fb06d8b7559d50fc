import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crossFileProblems, decideStage, explainStages, formatProblem, parsePipelineFile, PIPELINE_DIR, PIPELINE_FILE, withMatrixResults, type Pipeline, type StageDefinition } from '../pipelines/index.ts';
import { localEvent } from '../providers/event.ts';
import { backendFor, processRunner, stepEnvironment, type Backend, type StageOutcome } from '../runners/index.ts';
import { git, gitDirOf, resolveLocalCommit } from '../git/index.ts';

export class ExecError extends Error {}

export interface ExecOptions {
  dir: string;
  pipeline?: string;
  stage?: string;
  event: 'push' | 'pull_request' | 'manual';
  inputs?: Record<string, string>;
  /** `--backend`: `docker` runs stages that name an image in it; `local` runs every step on this machine; unset: docker when a stage names an image. */
  backend?: string;
  /** `--container-network`: the network of stage containers (default: the engine's). */
  containerNetwork?: string;
  out: (chunk: string) => void;
}

const inImage = (s: StageDefinition) => Boolean(s.image || s.services?.length);

/**
 * The back end for stages that name an image: the engine when one answers,
 * else an error saying why and running nothing; none with `--backend local`,
 * which runs them on this machine (a warning says so).
 */
async function containerBackend(opts: ExecOptions, stages: StageDefinition[]): Promise<Backend | null> {
  const imaged = stages.filter(inImage);
  if (!imaged.length) return null;
  const names = imaged.map((s) => `${s.name}: ${s.image ?? 'services'}`).join(', ');
  if (opts.backend === 'local') {
    opts.out(`forgeline: --backend local: the steps of ${names} run on this machine, not in their images\n`);
    return null;
  }
  const backend = backendFor('docker', { containerNetwork: opts.containerNetwork })!;
  const why = await backend.unavailable?.();
  if (why) throw new ExecError(`the pipeline runs stages in images (${names}), and ${why}; --backend local runs their steps on this machine instead`);
  return backend;
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
 * itself (like a local build), mounted at /workspace for a stage that names
 * an image; secrets are not available, and caches are neither restored nor saved.
 */
export async function execLocally(opts: ExecOptions): Promise<{ pipeline: string; results: Array<{ stage: string; status: string; reason: string | null }> }> {
  const pipelines = await localPipelines(opts.dir);
  const pipeline = opts.pipeline ? pipelines.find((p) => p.name === opts.pipeline) : pipelines[0];
  if (!pipeline) throw new ExecError(`no pipeline ${opts.pipeline} (pipelines: ${pipelines.map((p) => p.name).join(', ')})`);
  // `--stage test` names a matrix stage's every instance too.
  const chosen = (s: StageDefinition) => !opts.stage || s.name === opts.stage || s.matrix?.stage === opts.stage;
  if (!pipeline.stages.some(chosen)) throw new ExecError(`pipeline ${pipeline.name} has no stage ${opts.stage}`);

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
  const selected = pipeline.stages.filter(chosen);
  const containers = await containerBackend(opts, selected);
  const home = await mkdtemp(path.join(tmpdir(), 'forgeline-exec-home-'));
  const results: Result[] = [];
  try {
    for (const name of ordered(pipeline)) {
      const stage = pipeline.stages.find((s) => s.name === name)!;
      if (!chosen(stage)) continue;
      // As the scheduler decides: the condition known at planning, then the needs' results.
      const verdict = verdicts.get(name)!;
      const decision = opts.stage ? { run: true as const }
        : !verdict.runs ? { run: false as const, status: 'skipped', reason: verdict.reason }
        : await decideStage(stage, withMatrixResults(pipeline.stages, new Map(results.map((r) => [r.stage, r.status]))), event, () => null);
      if (!decision.run) {
        opts.out(`── ${name}: ${decision.status} (${decision.reason})\n`);
        results.push({ stage: name, status: decision.status, reason: decision.reason });
        continue;
      }
      // As a worker does: a failed attempt is tried again while `retries` allow.
      let outcome!: StageOutcome;
      for (let attempt = 1; attempt <= stage.retries + 1; attempt++) {
        opts.out(`── ${name}${attempt > 1 ? ` (attempt ${attempt})` : ''}\n`);
        const context = { event, runId: 0, runUrl: '', attempt, stage: name, environment: stage.environment, inputs: opts.inputs, matrix: stage.matrix?.values };
        const env = { ...pipeline.env, ...stage.env };
        outcome = containers && inImage(stage)
          ? await containers.runStage({
            id: `exec-${process.pid}-${attempt}-${name}`, workspaceRoot: home, workdir: opts.dir, image: stage.image, pull: stage.pull, services: stage.services,
            resources: stage.resources, steps: stage.steps, env, context, timeoutMs: stage.timeoutMs, user: null, restore: [], keep: [], log: opts.out,
          }).catch((err: Error) => ({ status: 'failure' as const, reason: err.message.split('\n')[0]! }))
          : await processRunner.run({ workdir: opts.dir, steps: stage.steps, env, ciEnv: stepEnvironment(context, home), timeoutMs: stage.timeoutMs, log: opts.out });
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

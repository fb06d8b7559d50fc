import type { ForgeEvent } from '../providers/types.ts';
import { evaluateCondition } from './cel.ts';
import { changedPathsOf } from './changed-paths.ts';
import { matchPipeline, type ChangedPaths } from './match.ts';
import { crossFileProblems, parsePipelineFile } from './parse.ts';
import { formatProblem } from './problem.ts';
import type { RepoView } from './repo-view.ts';
import type { Pipeline, Problem } from './types.ts';

export const PIPELINE_DIR = '.forgeline';
export const PIPELINE_FILE = /\.ya?ml$/;

export interface BrokenFile {
  file: string;
  /** The name the pipeline would have had: its `name:` if readable, else the file's stem. */
  name: string;
  problems: Problem[];
}

export interface LoadedPipelines {
  pipelines: Pipeline[];
  broken: BrokenFile[];
}

export interface StageExplain {
  name: string;
  runs: boolean;
  reason: string;
}

/** What one pipeline makes of one event (docs/cli.md, explain --json). */
export interface PipelineExplain {
  name: string;
  file: string;
  triggered: boolean;
  reason: string;
  /** The trigger key that decided, null when the pipeline has none for this kind of event. */
  trigger: string | null;
  /** A pipeline `if` that failed: the run context reports failure with it. */
  error?: string;
  problems?: string[];
  stages: StageExplain[];
  run?: number;
}

export interface EventExplain {
  event: ForgeEvent;
  reason?: string;
  pipelines: PipelineExplain[];
}

/** The name a pipeline file gives itself (`name:` on a line of its own), else its file's stem. */
export function nameOf(file: string, content: string): string {
  // Blanks, not \s: a \s* that crosses lines backtracks over a file of blank lines.
  return /^name:[ \t]*["']?([a-z0-9][a-z0-9_-]*)["']?[ \t]*\r?$/m.exec(content)?.[1] ?? file.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
}

// Parsed files by blob id: an unchanged file is not parsed again.
const parsedByBlob = new Map<string, ReturnType<typeof parsePipelineFile> & { name: string }>();

/** The pipeline files at a commit, parsed (cached by blob), with their problems. */
export async function loadPipelines(repo: Pick<RepoView, 'pipelineFiles' | 'blobs'>, sha: string): Promise<LoadedPipelines> {
  const files = await repo.pipelineFiles(sha);
  const key = (f: { blob: string; path: string }) => `${f.blob}:${f.path}`;
  // Only blobs not parsed before are read at all.
  const contents = await repo.blobs(files.filter((f) => !parsedByBlob.has(key(f))).map((f) => f.blob));
  const loaded: LoadedPipelines = { pipelines: [], broken: [] };
  for (const f of files) {
    let parsed = parsedByBlob.get(key(f));
    if (!parsed) {
      const content = contents.get(f.blob) ?? '';
      parsed = { ...parsePipelineFile(f.path, content), name: nameOf(f.path, content) };
      if (parsedByBlob.size > 5000) parsedByBlob.clear();
      parsedByBlob.set(key(f), parsed);
    }
    if (parsed.pipeline) loaded.pipelines.push(parsed.pipeline);
    else loaded.broken.push({ file: f.path, name: parsed.name, problems: parsed.problems });
  }
  for (const problem of crossFileProblems(loaded.pipelines)) {
    const index = loaded.pipelines.findIndex((p) => p.file === problem.file);
    const [p] = loaded.pipelines.splice(index, 1);
    loaded.broken.push({ file: problem.file, name: p!.name, problems: [problem] });
  }
  return loaded;
}

/** Which stages would run at planning time, and why not for the others. */
export function explainStages(p: Pipeline, event: ForgeEvent, payload: unknown): StageExplain[] {
  return p.stages.map((s) => {
    if (!s.if) return { name: s.name, runs: true, reason: s.needs.length ? `after ${s.needs.join(', ')}` : 'no condition' };
    if (s.ifReadsStages) return { name: s.name, runs: true, reason: `if: ${s.if} is decided once ${s.needs.join(', ')} finished` };
    try {
      return evaluateCondition(s.if, { event, payload: payload ?? null, stages: {}, matrix: s.matrix?.values ?? {} })
        ? { name: s.name, runs: true, reason: `if: ${s.if} is true` }
        : { name: s.name, runs: false, reason: `if: ${s.if} is false` };
    } catch (err) {
      return { name: s.name, runs: false, reason: `if: ${(err as Error).message}` };
    }
  });
}

/**
 * The explain trace of one event: every pipeline file at its commit, whether
 * it runs and which filter decided, and the stages that would run.
 */
export async function explainEvent(repo: RepoView, event: ForgeEvent, payload: unknown, loaded?: LoadedPipelines): Promise<EventExplain> {
  if (event.deleted || !event.sha) return { event, reason: 'deletions start no run', pipelines: [] };
  const { pipelines, broken } = loaded ?? await loadPipelines(repo, event.sha);
  const entry: EventExplain = { event, pipelines: [] };
  if (pipelines.length === 0 && broken.length === 0) entry.reason = `no ${PIPELINE_DIR}/*.yml at ${event.sha}`;
  for (const b of broken) {
    entry.pipelines.push({ name: b.name, file: b.file, triggered: false, trigger: null, reason: `invalid pipeline file: ${formatProblem(b.problems[0]!)}`, problems: b.problems.map(formatProblem), stages: [] });
  }
  let changed: Promise<ChangedPaths> | undefined;
  let message: Promise<string | null> | undefined;
  const ctx = {
    payload,
    changedPaths: () => (changed ??= changedPathsOf(repo, event)),
    // A push payload carries its head commit's message: git is asked only when it does not.
    commitMessage: () => (message ??= event.kind === 'push' && event.message !== null
      ? Promise.resolve(event.message)
      : repo.commitMessage(event.sha!).catch(() => event.message)),
  };
  for (const p of pipelines) {
    const match = await matchPipeline(p, event, ctx);
    entry.pipelines.push({
      name: p.name, file: p.file, triggered: match.triggered, reason: match.reason, trigger: match.trigger,
      ...(match.error ? { error: match.error } : {}),
      stages: match.triggered ? explainStages(p, event, payload) : [],
    });
  }
  return entry;
}

/**
 * The trace of an event whose planning was stopped at a limit
 * (planning-pool.ts): every pipeline file at the commit fails with the
 * reason, under the name it gives itself, so no required check waits forever.
 */
export async function explainStopped(repo: Pick<RepoView, 'pipelineFiles' | 'blobs'>, event: ForgeEvent, reason: string): Promise<EventExplain> {
  const files = await repo.pipelineFiles(event.sha!);
  const contents = await repo.blobs(files.map((f) => f.blob));
  return {
    event,
    pipelines: files.map((f) => ({ name: nameOf(f.path, contents.get(f.blob) ?? ''), file: f.path, triggered: false, trigger: null, reason, error: reason, stages: [] })),
  };
}

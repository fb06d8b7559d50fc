import path from 'node:path';
import picomatch from 'picomatch';
import { CronExpressionParser } from 'cron-parser';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { PullRequestAction } from '../providers/types.ts';
import { CelCompileError, compileCel } from './cel.ts';
import { parseDuration } from './duration.ts';
import { globProblem } from './globs.ts';
import { locate, locateInScalar, type Position } from './locate.ts';
import { expandMatrix, instanceName, substituteMatrix, type RawMatrix } from './matrix.ts';
import { parseSize } from './size.ts';
import { describeSchemaError, schemaErrors } from './schema.ts';
import type { CacheSpec, ManualInput, Pipeline, Problem, PullPolicy, Resources, Service, StageDefinition, Step, Triggers } from './types.ts';

export interface ParsedFile {
  pipeline: Pipeline | null;
  problems: Problem[];
}

const DEFAULT_PR_TYPES: PullRequestAction[] = ['opened', 'synchronize', 'reopened'];
const DEFAULT_TIMEOUT_MS = 60 * 60 * 1000;
const PIPELINE_VARIABLES = new Set(['event', 'payload']);
const STAGE_VARIABLES = new Set(['event', 'payload', 'stages', 'matrix']);
const DEFAULT_READY_TIMEOUT_MS = 60_000;

// The file's shape once the schema passed.
interface RawStep { name?: string; run: string; env?: Record<string, unknown>; 'working-directory'?: string; timeout?: string; 'continue-on-error'?: boolean }
interface RawService { image: string; env?: Record<string, unknown>; command?: string[]; ready?: { run: string; timeout?: string } }
interface RawStage {
  needs?: string[]; if?: string; env?: Record<string, unknown>; 'runs-on'?: string | string[]; image?: string; timeout?: string; retries?: number;
  steps: RawStep[]; artifacts?: string[]; environment?: string; approval?: { required?: boolean }; secrets?: string[];
  pull?: PullPolicy; services?: Record<string, RawService>; resources?: { cpus?: number; memory?: string; pids?: number };
  cache?: Array<{ key: string; files?: string[]; paths: string[] }>; matrix?: RawMatrix; 'fail-fast'?: boolean; 'max-parallel'?: number;
}
interface RawInput { type?: ManualInput['type']; description?: string; options?: string[]; required?: boolean; default?: string | boolean }
interface RawPipeline {
  name?: string;
  on?: {
    push?: { branches?: string[]; tags?: string[]; paths?: string[]; 'paths-ignore'?: string[] } | null;
    pull_request?: { types?: PullRequestAction[]; branches?: string[]; paths?: string[]; 'paths-ignore'?: string[] } | null;
    merge?: { branches?: string[] } | null;
    manual?: { inputs?: Record<string, RawInput> } | null;
    schedule?: Array<{ cron: string }>;
    webhook?: { sources?: string[]; types?: string[] } | null;
  };
  if?: string; env?: Record<string, unknown>; 'runs-on'?: string | string[]; image?: string;
  concurrency?: { group: string; 'cancel-in-progress'?: boolean };
  stages: Record<string, RawStage>;
}

function strings(env: Record<string, unknown> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, String(v)]));
}

function labels(value: string | string[] | undefined): string[] | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value : [value];
}

class Checker {
  problems: Problem[] = [];
  file: string;
  doc: Document;
  lines: LineCounter;
  constructor(file: string, doc: Document, lines: LineCounter) {
    this.file = file;
    this.doc = doc;
    this.lines = lines;
  }
  at(pointer: string[], key?: string): Position {
    return locate(this.doc, this.lines, pointer, key);
  }
  add(pos: Position, message: string): void {
    this.problems.push({ file: this.file, line: pos.line, col: pos.col, message });
  }

  globs(pointer: string[], list: string[] | undefined): void {
    list?.forEach((glob, i) => {
      const pattern = glob.startsWith('!') ? glob.slice(1) : glob;
      try {
        const refused = globProblem(pattern);
        if (refused) throw new Error(refused);
        // No extglobs (`+(a|b)`): nested, they backtrack for seconds on a short branch name.
        picomatch.makeRe(pattern, { strictBrackets: true, noextglob: true });
      } catch (err) {
        this.add(this.at([...pointer, String(i)]), `invalid glob '${glob}': ${(err as Error).message}`);
      }
    });
  }

  duration(pointer: string[], text: string | undefined): number | null {
    if (text === undefined) return null;
    const ms = parseDuration(text);
    if (ms === null || ms === 0) this.add(this.at(pointer), `invalid duration '${text}': write hours, minutes and seconds like 90s, 15m or 1h30m`);
    return ms;
  }

  /** Checks a condition; answers the stages it reads (null: it reads no `stages`). */
  cel(pointer: string[], source: string | undefined, allowed: Set<string>, stageNames?: Set<string>): Set<string> | null {
    if (source === undefined) return null;
    try {
      const compiled = compileCel(source);
      for (const root of compiled.roots) {
        if (!allowed.has(root)) this.add(this.at(pointer), `if: unknown variable '${root}'; conditions read ${[...allowed].join(', ')}`);
      }
      for (const stage of compiled.stages) {
        if (stageNames && !stageNames.has(stage)) this.add(this.at(pointer), `if: stages.${stage} is not a stage of this pipeline`);
      }
      return compiled.roots.has('stages') ? compiled.stages : null;
    } catch (err) {
      if (!(err instanceof CelCompileError)) throw err;
      this.add(locateInScalar(this.doc, this.lines, pointer, err.line, err.col), `if: ${err.message}`);
      return null;
    }
  }
}

/** Needs that name no stage, and cycles among needs, located at the offending entry. */
function checkNeeds(stages: StageDefinition[], names: Set<string>, check: Checker): void {
  for (const stage of stages) {
    stage.needs.forEach((need, i) => {
      if (need === stage.name) check.add(check.at(['stages', stage.name, 'needs', String(i)]), `stage '${stage.name}' cannot need itself`);
      else if (!names.has(need)) check.add(check.at(['stages', stage.name, 'needs', String(i)]), `stage '${stage.name}' needs '${need}', which is not a stage of this pipeline (stages: ${[...names].join(', ')})`);
    });
  }
  const byName = new Map(stages.map((s) => [s.name, s]));
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name];
      check.add(check.at(['stages', name, 'needs']), `needs form a cycle: ${cycle.join(' → ')}`);
      return;
    }
    state.set(name, 'visiting');
    for (const need of byName.get(name)?.needs ?? []) if (byName.has(need) && need !== name) visit(need, [...trail, name]);
    state.set(name, 'done');
  };
  for (const s of stages) visit(s.name, []);
}

function triggers(raw: RawPipeline['on'], check: Checker): Triggers {
  const on: Triggers = {};
  if (!raw) return on;
  if ('push' in raw) {
    const p = raw.push ?? {};
    for (const key of ['branches', 'tags', 'paths', 'paths-ignore'] as const) check.globs(['on', 'push', key], p[key]);
    if (p.paths && p['paths-ignore']) check.add(check.at(['on', 'push'], 'paths-ignore'), 'on.push: use either paths or paths-ignore, not both (prefix excluded paths with ! in paths)');
    on.push = { branches: p.branches ?? null, tags: p.tags ?? null, paths: p.paths ?? null, pathsIgnore: p['paths-ignore'] ?? null };
  }
  if ('pull_request' in raw) {
    const p = raw.pull_request ?? {};
    for (const key of ['branches', 'paths', 'paths-ignore'] as const) check.globs(['on', 'pull_request', key], p[key]);
    if (p.paths && p['paths-ignore']) check.add(check.at(['on', 'pull_request'], 'paths-ignore'), 'on.pull_request: use either paths or paths-ignore, not both');
    on.pull_request = { types: p.types ?? DEFAULT_PR_TYPES, branches: p.branches ?? null, paths: p.paths ?? null, pathsIgnore: p['paths-ignore'] ?? null };
  }
  if ('merge' in raw) {
    check.globs(['on', 'merge', 'branches'], raw.merge?.branches);
    on.merge = { branches: raw.merge?.branches ?? null };
  }
  if ('manual' in raw) {
    const inputs: Record<string, ManualInput> = {};
    for (const [name, input] of Object.entries(raw.manual?.inputs ?? {})) {
      const where = ['on', 'manual', 'inputs', name];
      const type = input.type ?? 'string';
      if (type === 'choice' && !input.options) check.add(check.at(where), `input '${name}': a choice needs options`);
      if (type !== 'choice' && input.options) check.add(check.at(where, 'options'), `input '${name}': options only apply to type: choice`);
      if (input.default !== undefined) {
        const ok = type === 'boolean' ? typeof input.default === 'boolean' : typeof input.default === 'string' && (type !== 'choice' || (input.options ?? []).includes(input.default));
        if (!ok) check.add(check.at(where, 'default'), `input '${name}': default ${JSON.stringify(input.default)} is not a valid ${type}${type === 'choice' ? ` (options: ${(input.options ?? []).join(', ')})` : ''}`);
      }
      inputs[name] = { type, description: input.description ?? null, options: input.options ?? null, required: input.required ?? false, default: input.default ?? null };
    }
    on.manual = { inputs };
  }
  if (raw.schedule) {
    raw.schedule.forEach((entry, i) => {
      const fields = entry.cron.trim().split(/\s+/);
      try {
        if (fields.length !== 5) throw new Error(`has ${fields.length} fields, needs 5 (minute hour day-of-month month day-of-week)`);
        CronExpressionParser.parse(entry.cron);
      } catch (err) {
        check.add(check.at(['on', 'schedule', String(i), 'cron']), `invalid cron '${entry.cron}': ${(err as Error).message}`);
      }
    });
    on.schedule = raw.schedule.map((s) => ({ cron: s.cron.trim() }));
  }
  if ('webhook' in raw) {
    check.globs(['on', 'webhook', 'types'], raw.webhook?.types);
    on.webhook = { sources: raw.webhook?.sources ?? null, types: raw.webhook?.types ?? null };
  }
  return on;
}

function step(raw: RawStep, pointer: string[], check: Checker): Step {
  const dir = raw['working-directory'];
  if (dir !== undefined && (path.posix.isAbsolute(dir) || path.posix.normalize(dir).split('/').includes('..'))) {
    check.add(check.at([...pointer, 'working-directory']), `working-directory '${dir}' must stay inside the checkout`);
  }
  return {
    name: raw.name ?? null,
    run: raw.run,
    env: strings(raw.env),
    workingDirectory: dir ?? null,
    timeoutMs: check.duration([...pointer, 'timeout'], raw.timeout),
    continueOnError: raw['continue-on-error'] ?? false,
  };
}

function services(raw: Record<string, RawService> | undefined, at: string[], check: Checker): Service[] {
  return Object.entries(raw ?? {}).map(([name, svc]) => ({
    name,
    image: svc.image,
    env: strings(svc.env),
    command: svc.command ?? null,
    ready: svc.ready ? { run: svc.ready.run, timeoutMs: check.duration([...at, name, 'ready', 'timeout'], svc.ready.timeout) ?? DEFAULT_READY_TIMEOUT_MS } : null,
  }));
}

function resources(raw: RawStage['resources'], at: string[], check: Checker): Resources {
  const memory = raw?.memory === undefined ? null : parseSize(raw.memory);
  if (memory !== null && memory < 6 * 1024 * 1024) check.add(check.at([...at, 'memory']), `memory ${raw!.memory} is below the engines' least (6m)`);
  return { cpus: raw?.cpus ?? null, memory, pids: raw?.pids ?? null };
}

/** Paths a step reaches from the workspace: relative, and staying inside it. */
function insideWorkspace(p: string): boolean {
  return !path.posix.isAbsolute(p) && !path.posix.normalize(p).split('/').includes('..') && path.posix.normalize(p) !== '.';
}

function caches(raw: RawStage['cache'], at: string[], check: Checker): CacheSpec[] {
  const keys = new Set<string>();
  return (raw ?? []).map((c, i) => {
    if (keys.has(c.key)) check.add(check.at([...at, String(i), 'key']), `cache key '${c.key}' appears twice in this stage`);
    keys.add(c.key);
    for (const [list, paths] of [['paths', c.paths], ['files', c.files ?? []]] as const) {
      paths.forEach((p, j) => { if (!insideWorkspace(p)) check.add(check.at([...at, String(i), list, String(j)]), `'${p}' must be a path inside the workspace`); });
    }
    return { key: c.key, files: c.files ?? [], paths: c.paths.map((p) => path.posix.normalize(p).replace(/\/$/, '')) };
  });
}

/**
 * A stage as it runs: itself, or one stage per matrix combination with the
 * combination's values put into `image`, the services' images, `runs-on`
 * and `env` (and `${{ }}` refused anywhere else they could be written).
 */
function instances(stage: StageDefinition, raw: RawStage, check: Checker): StageDefinition[] {
  const at = ['stages', stage.name];
  const fill = (values: Record<string, string> | null, name: string) => {
    const sub = (pointer: string[], text: string) => {
      const r = substituteMatrix(text, values);
      if ('problem' in r) {
        check.add(check.at(pointer), r.problem);
        return text;
      }
      return r.text;
    };
    return {
      ...stage,
      name,
      image: stage.image === null ? null : sub(raw.image === undefined ? ['image'] : [...at, 'image'], stage.image),
      services: stage.services.map((svc) => ({ ...svc, image: sub([...at, 'services', svc.name, 'image'], svc.image) })),
      runsOn: stage.runsOn?.map((l, i) => sub([...at, 'runs-on', ...(Array.isArray(raw['runs-on']) ? [String(i)] : [])], l)) ?? null,
      env: Object.fromEntries(Object.entries(stage.env).map(([k, v]) => [k, sub([...at, 'env', k], v)])),
    };
  };
  if (!raw.matrix) return [fill(null, stage.name)];
  const { axes, combinations, problems } = expandMatrix(raw.matrix);
  for (const p of problems) check.add(check.at([...at, 'matrix', ...p.at], p.key), p.message);
  if (problems.length) return [];
  return combinations.map((values) => ({
    ...fill(values, instanceName(stage.name, axes, values)),
    matrix: { stage: stage.name, values, failFast: raw['fail-fast'] ?? true, maxParallel: raw['max-parallel'] ?? null },
  }));
}

/** Problems in the order of the file, as an editor lists them; each once (a matrix stage's instances share their lines). */
function sorted(problems: Problem[]): Problem[] {
  const unique = new Map(problems.map((p) => [`${p.line}:${p.col}:${p.message}`, p]));
  return [...unique.values()].sort((a, b) => a.line - b.line || a.col - b.col);
}

/**
 * Pipeline files come from anyone who can push, a fork's author included, and
 * are parsed on the server: the size and the aliases a file may hold are
 * bounded, so one cannot hold up planning for everyone.
 */
export const MAX_PIPELINE_FILE_BYTES = 1024 * 1024;
const MAX_YAML_ALIASES = 100;

/** Parses and validates one pipeline file; every problem is located at file:line:col. */
export function parsePipelineFile(file: string, content: string): ParsedFile {
  const size = Buffer.byteLength(content);
  if (size > MAX_PIPELINE_FILE_BYTES) {
    return { pipeline: null, problems: [{ file, line: 1, col: 1, message: `the file is ${size} bytes; a pipeline file may hold at most ${MAX_PIPELINE_FILE_BYTES} (1 MiB)` }] };
  }
  const lines = new LineCounter();
  const doc = parseDocument(content, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const check = new Checker(file, doc, lines);

  for (const err of doc.errors) {
    const message = err.code === 'DUPLICATE_KEY' ? 'a key appears twice (duplicate stage names are not allowed)' : err.message.split('\n')[0];
    check.add(lines.linePos(err.pos[0]), `YAML: ${message}`);
  }
  if (check.problems.length) return { pipeline: null, problems: check.problems };

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    // yaml refuses aliases that would expand past the count (a "billion laughs"); anything else is ours to fix.
    if (!(err instanceof ReferenceError)) throw err;
    check.add({ line: 1, col: 1 }, `YAML: ${err.message}: a pipeline file may use at most ${MAX_YAML_ALIASES} aliases`);
    return { pipeline: null, problems: check.problems };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    check.add({ line: 1, col: 1 }, 'a pipeline file must be a mapping with at least `stages`');
    return { pipeline: null, problems: check.problems };
  }
  const misshapen: string[][] = [];
  for (const err of schemaErrors(value)) {
    const pointer = err.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const key = err.keyword === 'additionalProperties' ? (err.params as { additionalProperty: string }).additionalProperty : undefined;
    check.add(check.at(pointer, key), `${err.instancePath || '(top level)'}: ${describeSchemaError(err)}`);
    misshapen.push(key === undefined ? pointer : [...pointer, key]);
  }
  // The checks below read values of the shape the schema gives them: they run, in the same
  // pass, on every part the schema found whole, so a file's problems are all told at once.
  const whole = (at: string[]) => !misshapen.some((p) => p.length <= at.length ? p.every((k, i) => at[i] === k) : at.every((k, i) => p[i] === k));
  const raw = value as RawPipeline;
  if (!whole(['stages']) && (typeof raw.stages !== 'object' || raw.stages === null || Array.isArray(raw.stages))) return { pipeline: null, problems: sorted(check.problems) };
  const stageNames = new Set(Object.keys(raw.stages));
  const on = whole(['on']) ? triggers(raw.on, check) : {};
  if (whole(['if'])) check.cel(['if'], raw.if, PIPELINE_VARIABLES);
  const defined: StageDefinition[] = Object.entries(raw.stages).filter(([name]) => whole(['stages', name])).map(([name, s]) => {
    const at = ['stages', name];
    const reads = check.cel([...at, 'if'], s.if, STAGE_VARIABLES, stageNames);
    for (const other of reads ?? []) {
      if (stageNames.has(other) && !(s.needs ?? []).includes(other)) {
        check.add(check.at([...at, 'if']), `if: reads stages.${other}.result, so '${name}' must list '${other}' in needs`);
      }
    }
    check.globs([...at, 'artifacts'], s.artifacts);
    if (s.services && !(s.image ?? raw.image)) check.add(check.at(at, 'services'), `services need the stage to name an image: steps reach them through the stage container's network`);
    if (!s.matrix) for (const key of ['fail-fast', 'max-parallel'] as const) if (s[key] !== undefined) check.add(check.at(at, key), `${key} applies only to a stage with a matrix`);
    return {
      name,
      matrix: null,
      needs: s.needs ?? [],
      if: s.if ?? null,
      ifReadsStages: reads !== null,
      env: strings(s.env),
      runsOn: labels(s['runs-on']),
      image: s.image ?? raw.image ?? null,
      pull: s.pull ?? 'if-not-present',
      services: services(s.services, [...at, 'services'], check),
      resources: resources(s.resources, [...at, 'resources'], check),
      cache: caches(s.cache, [...at, 'cache'], check),
      timeoutMs: check.duration([...at, 'timeout'], s.timeout) ?? DEFAULT_TIMEOUT_MS,
      retries: s.retries ?? 0,
      steps: s.steps.map((st, i) => step(st, [...at, 'steps', String(i)], check)),
      artifacts: s.artifacts ?? [],
      environment: s.environment ?? null,
      approval: s.approval?.required ?? false,
      secrets: s.secrets ?? [],
    };
  });
  checkNeeds(defined, stageNames, check);
  const stages = defined.flatMap((stage) => instances(stage, raw.stages[stage.name]!, check));
  // `needs: [test]` waits for every instance of a matrix stage.
  const instancesOf = new Map<string, string[]>();
  for (const st of stages) if (st.matrix) instancesOf.set(st.matrix.stage, [...(instancesOf.get(st.matrix.stage) ?? []), st.name]);
  for (const st of stages) st.needs = st.needs.flatMap((n) => instancesOf.get(n) ?? [n]);
  if (check.problems.length) return { pipeline: null, problems: sorted(check.problems) };

  const stem = path.posix.basename(file).replace(/\.ya?ml$/, '');
  return {
    pipeline: {
      name: raw.name ?? stem,
      file,
      on,
      if: raw.if ?? null,
      env: strings(raw.env),
      runsOn: labels(raw['runs-on']) ?? [],
      concurrency: raw.concurrency ? { group: raw.concurrency.group, cancelInProgress: raw.concurrency['cancel-in-progress'] ?? false } : null,
      stages,
    },
    problems: [],
  };
}

/**
 * Checks that span files: pipeline names must be unique across the
 * repository, and match [a-z0-9][a-z0-9_-]* also when taken from the stem.
 */
export function crossFileProblems(pipelines: Pipeline[]): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, string>();
  for (const p of pipelines) {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(p.name)) {
      problems.push({ file: p.file, line: 1, col: 1, message: `pipeline name '${p.name}' (from the file name) must match [a-z0-9][a-z0-9_-]*: set name:` });
    }
    const other = seen.get(p.name);
    if (other) problems.push({ file: p.file, line: 1, col: 1, message: `pipeline name '${p.name}' is also used by ${other}: names must be unique` });
    else seen.set(p.name, p.file);
  }
  return problems;
}

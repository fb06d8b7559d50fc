import path from 'node:path';
import { isCollection, isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { describeSchemaError, schemaErrors } from './schema.ts';
import type { Pipeline, Problem, StageDefinition } from './types.ts';

export interface ParsedFile {
  pipeline: Pipeline | null;
  problems: Problem[];
}

/** Locates a JSON-pointer path in the YAML document; `key` points at a map key instead of its value. */
function locate(doc: Document, lines: LineCounter, pointer: string[], key?: string): { line: number; col: number } {
  let node: unknown = doc.contents;
  for (const segment of pointer) {
    if (!isCollection(node)) break;
    const next = node.get(isMap(node) ? segment : Number(segment), true);
    if (next === undefined) break;
    node = next;
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
    if (pair && isScalar(pair.key)) node = pair.key;
  }
  const offset = (node as Node | null)?.range?.[0] ?? 0;
  return lines.linePos(offset);
}

function pointerOf(instancePath: string): string[] {
  return instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Needs that name no stage, and cycles among needs, located at the offending entry. */
function dagProblems(stages: StageDefinition[], at: (pointer: string[]) => { line: number; col: number }): Array<{ pos: { line: number; col: number }; message: string }> {
  const names = new Set(stages.map((s) => s.name));
  const problems: Array<{ pos: { line: number; col: number }; message: string }> = [];
  for (const stage of stages) {
    stage.needs.forEach((need, i) => {
      if (!names.has(need)) {
        problems.push({ pos: at(['stages', stage.name, 'needs', String(i)]), message: `stage '${stage.name}' needs '${need}', which is not a stage of this pipeline (stages: ${[...names].join(', ')})` });
      }
    });
  }
  const byName = new Map(stages.map((s) => [s.name, s]));
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name];
      problems.push({ pos: at(['stages', name, 'needs']), message: `needs form a cycle: ${cycle.join(' → ')}` });
      return;
    }
    state.set(name, 'visiting');
    for (const need of byName.get(name)?.needs ?? []) if (byName.has(need)) visit(need, [...trail, name]);
    state.set(name, 'done');
  };
  for (const s of stages) visit(s.name, []);
  return problems;
}

/** Parses and validates one pipeline file; every problem is located at file:line:col. */
export function parsePipelineFile(file: string, content: string): ParsedFile {
  const lines = new LineCounter();
  const doc = parseDocument(content, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: Problem[] = [];
  const add = (pos: { line: number; col: number }, message: string) => problems.push({ file, line: pos.line, col: pos.col, message });

  for (const err of doc.errors) add(lines.linePos(err.pos[0]), `YAML: ${err.message.split('\n')[0]}`);
  if (problems.length) return { pipeline: null, problems };

  const value = doc.toJS() as unknown;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    add({ line: 1, col: 1 }, 'a pipeline file must be a mapping with at least `stages`');
    return { pipeline: null, problems };
  }
  for (const err of schemaErrors(value)) {
    const pointer = pointerOf(err.instancePath);
    const key = err.keyword === 'additionalProperties' ? (err.params as { additionalProperty: string }).additionalProperty : undefined;
    add(locate(doc, lines, pointer, key), `${err.instancePath || '(top level)'}: ${describeSchemaError(err)}`);
  }
  if (problems.length) return { pipeline: null, problems };

  const raw = value as { name?: string; on?: { push?: { branches?: string[] } | null }; stages: Record<string, { needs?: string[]; steps: Array<{ name?: string; run: string }> }> };
  const stages: StageDefinition[] = Object.entries(raw.stages).map(([name, s]) => ({
    name,
    needs: s.needs ?? [],
    steps: s.steps.map((step) => ({ name: step.name ?? null, run: step.run })),
  }));
  for (const p of dagProblems(stages, (pointer) => locate(doc, lines, pointer))) add(p.pos, p.message);
  if (problems.length) return { pipeline: null, problems };

  const on: Pipeline['on'] = {};
  if (raw.on && 'push' in raw.on) on.push = { branches: raw.on.push?.branches ?? null };
  const stem = path.posix.basename(file).replace(/\.ya?ml$/, '');
  return { pipeline: { name: raw.name ?? stem, file, on, stages }, problems };
}

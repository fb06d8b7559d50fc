/**
 * A stage's `matrix:` (docs/pipelines.md, "Matrix"): every combination of the
 * axes' values, minus `exclude`, plus `include`, each its own stage named
 * `<stage> (<values in axis order>)`. The values come from the file, never
 * from the event, so they may go into images and labels.
 */

/** More instances than this are refused at the `matrix` line: one push must not queue thousands of stages. */
export const MAX_MATRIX_INSTANCES = 256;

export type RawMatrix = Record<string, unknown[]> & { include?: Array<Record<string, unknown>>; exclude?: Array<Record<string, unknown>> };

export interface MatrixProblem {
  /** Where, below the stage's `matrix`: e.g. ['exclude', '0'], and the key at fault. */
  at: string[];
  key?: string;
  message: string;
}

export interface Expanded {
  axes: string[];
  combinations: Array<Record<string, string>>;
  problems: MatrixProblem[];
}

/** The combinations of a matrix, in axis order, and what is wrong with it. */
export function expandMatrix(raw: RawMatrix): Expanded {
  const axes = Object.keys(raw).filter((k) => k !== 'include' && k !== 'exclude');
  const problems: MatrixProblem[] = [];
  const unknownAxes = (list: 'include' | 'exclude') => (raw[list] ?? []).forEach((entry, i) => {
    for (const key of Object.keys(entry)) {
      if (!axes.includes(key)) problems.push({ at: [list, String(i)], key, message: `matrix ${list}: '${key}' is not an axis of this matrix (axes: ${axes.join(', ') || 'none'})` });
    }
  });
  unknownAxes('include');
  unknownAxes('exclude');
  (raw.include ?? []).forEach((entry, i) => {
    const missing = axes.filter((a) => !(a in entry));
    if (missing.length) problems.push({ at: ['include', String(i)], message: `matrix include: give every axis a value (missing: ${missing.join(', ')})` });
  });
  if (problems.length) return { axes, combinations: [], problems };

  // The product grows multiplicatively: counted before it is built.
  const product = axes.reduce((n, a) => n * raw[a]!.length, axes.length ? 1 : 0);
  if (product > 100 * MAX_MATRIX_INSTANCES) {
    return { axes, combinations: [], problems: [{ at: [], message: `matrix: ${product} combinations; a stage may have at most ${MAX_MATRIX_INSTANCES} instances` }] };
  }
  let combinations: Array<Record<string, string>> = axes.length ? [{}] : [];
  for (const axis of axes) combinations = combinations.flatMap((c) => raw[axis]!.map((v) => ({ ...c, [axis]: String(v) })));
  const excluded = (c: Record<string, string>) => (raw.exclude ?? []).some((e) => Object.entries(e).every(([k, v]) => c[k] === String(v)));
  combinations = combinations.filter((c) => !excluded(c));
  const seen = new Set(combinations.map((c) => instanceSuffix(axes, c)));
  for (const entry of raw.include ?? []) {
    const c = Object.fromEntries(axes.map((a) => [a, String(entry[a])]));
    if (!seen.has(instanceSuffix(axes, c))) {
      seen.add(instanceSuffix(axes, c));
      combinations.push(c);
    }
  }
  if (combinations.length > MAX_MATRIX_INSTANCES) problems.push({ at: [], message: `matrix: ${combinations.length} instances; a stage may have at most ${MAX_MATRIX_INSTANCES}` });
  if (combinations.length === 0) problems.push({ at: [], message: 'matrix: every combination is excluded; the stage would never run' });
  return { axes, combinations, problems };
}

const instanceSuffix = (axes: string[], values: Record<string, string>) => axes.map((a) => values[a]).join(', ');

/** `test (22, pg15)`: the stage's name and its values in axis order. */
export function instanceName(stage: string, axes: string[], values: Record<string, string>): string {
  return `${stage} (${instanceSuffix(axes, values)})`;
}

const REFERENCE = /\$\{\{\s*([^}]*?)\s*\}\}/g;

/**
 * `${{ matrix.<axis> }}` replaced by the instance's value. Answers the text,
 * or the problem with it (an unknown axis, anything but matrix.<axis>).
 */
export function substituteMatrix(text: string, values: Record<string, string> | null): { text: string } | { problem: string } {
  let problem: string | null = null;
  const out = text.replace(REFERENCE, (whole, expr: string) => {
    const m = /^matrix\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr);
    if (!m) problem ??= `${whole}: only \${{ matrix.<axis> }} may be written here`;
    else if (!values) problem ??= `${whole}: the stage has no matrix`;
    else if (!(m[1]! in values)) problem ??= `${whole}: '${m[1]}' is not an axis of this matrix (axes: ${Object.keys(values).join(', ')})`;
    return m && values ? values[m[1]!] ?? '' : whole;
  });
  return problem ? { problem } : { text: out };
}

/**
 * A matrix stage's result as `stages.<stage>.result` reads it, from its
 * instances' (all final): failure if any failed, else canceled if any was,
 * skipped if all were, else success.
 */
export function matrixResult(results: string[]): string {
  if (results.includes('failure')) return 'failure';
  if (results.includes('canceled')) return 'canceled';
  if (results.length && results.every((r) => r === 'skipped')) return 'skipped';
  return 'success';
}

/** `finished` (stage → result) with each matrix stage's own result added once all its instances are in it. */
export function withMatrixResults(stages: Array<{ name: string; matrix: { stage: string } | null }>, finished: Map<string, string>): Map<string, string> {
  const byParent = new Map<string, string[]>();
  for (const s of stages) if (s.matrix) byParent.set(s.matrix.stage, [...(byParent.get(s.matrix.stage) ?? []), s.name]);
  const out = new Map(finished);
  for (const [parent, names] of byParent) {
    if (names.every((n) => finished.has(n))) out.set(parent, matrixResult(names.map((n) => finished.get(n)!)));
  }
  return out;
}

import { celEnv, celFunc, CelScalar, isCelError, parse, plan } from '@bufbuild/cel';

/**
 * Every turn of a comprehension (`exists`, `all`, `map`, `filter`,
 * `exists_one`) costs a step, nested ones multiply: a condition may take
 * this many in one evaluation. Expressions are otherwise linear in their
 * length, and `matches` is RE2, so this bounds what a pipeline file's `if`
 * can cost (@bufbuild/cel has no cost limits of its own).
 */
export const CEL_STEP_BUDGET = 100_000;
const STEP = '__forgeline_step__';
let stepsLeft = CEL_STEP_BUDGET;

export class CelBudgetError extends Error {}

const env = celEnv({
  funcs: [celFunc(STEP, [], CelScalar.BOOL, () => {
    if (--stepsLeft < 0) throw new CelBudgetError(`took more than ${CEL_STEP_BUDGET} comprehension steps (the limit of one condition)`);
    return true;
  })],
});

// `loopCondition && step()`: the loop stops, and the condition fails, once the budget is spent.
function counted(node: any): any {
  const call = (fn: string, args: unknown[]) => ({ $typeName: 'cel.expr.Expr', id: node.id, exprKind: { case: 'callExpr', value: { $typeName: 'cel.expr.Expr.Call', function: fn, args } } });
  return call('_&&_', [node, call(STEP, [])]);
}

function countSteps(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  const kind = (node as { exprKind?: { case?: string; value?: any } }).exprKind;
  if (kind?.case === 'comprehensionExpr' && kind.value.loopCondition) kind.value.loopCondition = counted(kind.value.loopCondition);
  for (const value of Object.values(node as Record<string, unknown>)) {
    if (Array.isArray(value)) value.forEach(countSteps);
    else if (value && typeof value === 'object') countSteps(value);
  }
}
const cache = new Map<string, ReturnType<typeof compile>>();

export interface CompiledCel {
  /** Variables the expression reads at top level (event, payload, stages). */
  roots: Set<string>;
  /** `stages.<name>` it reads. */
  stages: Set<string>;
  evaluate(vars: Record<string, unknown>): unknown;
}

export class CelCompileError extends Error {
  /** 1-based position within the expression. */
  line: number;
  col: number;
  constructor(message: string, line: number, col: number) {
    super(message);
    this.line = line;
    this.col = col;
  }
}

// Walks the parsed expression for identifiers and `stages.<name>` selections;
// names bound by comprehensions (`x` in `list.exists(x, …)`) go to `bound`.
function references(node: unknown, roots: Set<string>, stages: Set<string>, bound: Set<string>): void {
  if (!node || typeof node !== 'object') return;
  const expr = node as { exprKind?: { case?: string; value?: any } };
  const kind = expr.exprKind;
  if (kind?.case === 'identExpr') roots.add(kind.value.name);
  if (kind?.case === 'comprehensionExpr') {
    for (const v of [kind.value.iterVar, kind.value.iterVar2, kind.value.accuVar]) if (v) bound.add(v);
  }
  if (kind?.case === 'selectExpr') {
    const operand = kind.value.operand?.exprKind;
    if (operand?.case === 'identExpr' && operand.value.name === 'stages') stages.add(kind.value.field);
  }
  for (const value of Object.values(node as Record<string, unknown>)) {
    if (Array.isArray(value)) value.forEach((v) => references(v, roots, stages, bound));
    else if (value && typeof value === 'object') references(value, roots, stages, bound);
  }
}

/** The longest condition: beside the step budget, this bounds what one step can do. */
export const CEL_MAX_LENGTH = 4096;

function compile(source: string): CompiledCel {
  if (source.length > CEL_MAX_LENGTH) throw new CelCompileError(`the condition is ${source.length} characters long; one may hold at most ${CEL_MAX_LENGTH}`, 1, 1);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    const message = (err as Error).message;
    const at = /<input>:(\d+):(\d+): (.*)/.exec(message);
    throw at ? new CelCompileError(at[3]!, Number(at[1]), Number(at[2])) : new CelCompileError(message, 1, 1);
  }
  const roots = new Set<string>();
  const stages = new Set<string>();
  const bound = new Set<string>();
  references(parsed.expr, roots, stages, bound);
  for (const name of bound) roots.delete(name);
  countSteps(parsed.expr);
  const run = plan(env, parsed);
  return {
    roots,
    stages,
    evaluate(vars) {
      stepsLeft = CEL_STEP_BUDGET;
      const result = run(vars as never);
      if (isCelError(result)) throw new Error(result.message);
      return result;
    },
  };
}

/** Parses a CEL expression once (cached) or throws CelCompileError. */
export function compileCel(source: string): CompiledCel {
  let compiled = cache.get(source);
  if (!compiled) {
    compiled = compile(source);
    cache.set(source, compiled);
  }
  return compiled;
}

/** Evaluates a condition; it must come out a boolean. Throws with a message for the status. */
export function evaluateCondition(source: string, vars: Record<string, unknown>): boolean {
  const value = compileCel(source).evaluate(vars);
  if (typeof value !== 'boolean') throw new Error(`if: ${source} gave ${typeof value}, not a boolean`);
  return value;
}

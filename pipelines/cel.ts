import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';

const env = celEnv();
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

function compile(source: string): CompiledCel {
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
  const run = plan(env, parsed);
  return {
    roots,
    stages,
    evaluate(vars) {
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

import picomatch from 'picomatch';

/**
 * What one pattern may hold. A glob becomes a backtracking regular
 * expression: each `*` run or brace group multiplies the work on a value
 * that almost matches (five `*a` took seconds on a 250-character branch).
 * These refuse the plain bombs at validation, with the file's line and
 * column; planning's time limit (planning-pool.ts) stops the rest.
 */
export const GLOB_LIMITS = { length: 256, stars: 4, braces: 8 };

/** Why a pattern is refused, or null. */
export function globProblem(pattern: string): string | null {
  if (pattern === '') return 'empty pattern';
  if (pattern.length > GLOB_LIMITS.length) return `it is ${pattern.length} characters long; a pattern may hold at most ${GLOB_LIMITS.length}`;
  const stars = pattern.match(/\*+/g)?.length ?? 0;
  if (stars > GLOB_LIMITS.stars) return `it holds ${stars} wildcards (* or **); a pattern may hold at most ${GLOB_LIMITS.stars}`;
  const braces = pattern.split('{').length - 1;
  if (braces > GLOB_LIMITS.braces) return `it holds ${braces} brace groups; a pattern may hold at most ${GLOB_LIMITS.braces}`;
  return null;
}

// Compiled once per pattern: planning matches every changed path against the same few.
const OPTIONS = { dot: true, noextglob: true };
const compiled = new Map<string, (value: string) => boolean>();

function matcher(pattern: string): (value: string) => boolean {
  let match = compiled.get(pattern);
  if (!match) {
    match = picomatch(pattern, OPTIONS);
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, match);
  }
  return match;
}

/**
 * GitHub Actions filter semantics: patterns apply in order, `!pattern`
 * excludes, and the last pattern that matches decides. `*` stops at `/`,
 * `**` crosses it. Extglobs (`+(a|b)`, `@(…)`) are not read as such, as on
 * GitHub: nested ones backtrack for seconds on a short name.
 */
export function matchesFilter(value: string, patterns: string[]): boolean {
  let matched = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    if (matcher(negated ? pattern.slice(1) : pattern)(value)) matched = !negated;
  }
  return matched;
}

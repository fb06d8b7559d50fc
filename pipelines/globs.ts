import picomatch from 'picomatch';

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
    if (picomatch.isMatch(value, negated ? pattern.slice(1) : pattern, { dot: true, noextglob: true })) matched = !negated;
  }
  return matched;
}

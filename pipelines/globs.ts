import picomatch from 'picomatch';

/**
 * GitHub Actions filter semantics: patterns apply in order, `!pattern`
 * excludes, and the last pattern that matches decides. `*` stops at `/`,
 * `**` crosses it.
 */
export function matchesFilter(value: string, patterns: string[]): boolean {
  let matched = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    if (picomatch.isMatch(value, negated ? pattern.slice(1) : pattern, { dot: true })) matched = !negated;
  }
  return matched;
}

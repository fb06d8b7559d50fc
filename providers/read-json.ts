/** Safe reads from an untrusted JSON payload: a missing or mistyped field is null, never a throw. */
export function at(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return null;
    current = (current as Record<string, unknown>)[key];
  }
  return current ?? null;
}

export function str(value: unknown, path: string): string | null {
  const v = at(value, path);
  return typeof v === 'string' ? v : null;
}

export function num(value: unknown, path: string): number | null {
  const v = at(value, path);
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** A whole number that fits the database's integers (a pull request's number): anything else is null. */
export function int(value: unknown, path: string): number | null {
  const v = at(value, path);
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2 ** 31 - 1 ? v : null;
}

export function bool(value: unknown, path: string): boolean {
  return at(value, path) === true;
}

export function list(value: unknown, path: string): unknown[] {
  const v = at(value, path);
  return Array.isArray(v) ? v : [];
}

import type { Headers } from './types.ts';

/** A header's single value (the first when repeated), by lower-case name. */
export function header(headers: Headers, name: string): string | null {
  const value = headers[name.toLowerCase()];
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}

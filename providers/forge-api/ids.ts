import type { ForgeApi } from './request.ts';

/** A created or found object's id as a string (GitHub's numbers, Bitbucket Cloud's {uuid}); an answer without one is the forge's fault. */
export function idOf(api: ForgeApi, value: unknown, what: string): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value) return value;
  throw new Error(`${api.forge} answered a ${what} without an id`);
}

import type { Backend } from '../backend.ts';
import { localBackend } from './local/index.ts';

/** The back ends by name (`--backend`): one folder each under runners/backends/, one line here. */
const backends = new Map<string, Backend>([localBackend].map((b) => [b.name, b]));

export function backendFor(name: string): Backend | undefined {
  return backends.get(name);
}

export function backendNames(): string[] {
  return [...backends.keys()];
}

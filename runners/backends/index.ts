import type { Backend } from '../backend.ts';
import { dockerBackend } from './docker/index.ts';
import { localBackend } from './local/index.ts';

/** What `serve` and `worker` pass a back end (`--container-network`, `--cpus`, `--memory` in bytes). */
export interface BackendOptions {
  containerNetwork?: string;
  cpus?: number;
  memory?: number;
}

/** The back ends by name (`--backend`): one folder each under runners/backends/, one line here. */
const backends = new Map<string, (opts: BackendOptions) => Backend>([
  ['local', () => localBackend],
  ['docker', (opts) => dockerBackend({ network: opts.containerNetwork, cpus: opts.cpus, memory: opts.memory })],
]);

export function backendFor(name: string, opts: BackendOptions = {}): Backend | undefined {
  return backends.get(name)?.(opts);
}

export function backendNames(): string[] {
  return [...backends.keys()];
}

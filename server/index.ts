import type { Server } from 'node:http';
import type { IngestDeps, SchedulerDeps } from '../scheduler/index.ts';
import { createApp, type AppOptions } from './app.ts';

export { createApp, type AppOptions };

/** Serves the app on `port` (0: any free port) and resolves once it listens. */
export async function listen(deps: SchedulerDeps, ingest: IngestDeps, opts: AppOptions, port: number, host = '0.0.0.0'): Promise<Server> {
  const app = createApp(deps, ingest, opts);
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, () => resolve(server));
    server.once('error', reject);
  });
}

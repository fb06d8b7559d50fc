import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SchedulerDeps } from '../scheduler/index.ts';
import type { IngestDeps } from '../ingest/index.ts';
import { createApp, type AppOptions, type TransportConfig } from './app.ts';

export { createApp, type AppOptions, type TransportConfig };

/** Serves the app on `port` (0: any free port) and resolves once it listens. */
export async function listen(deps: SchedulerDeps, ingest: IngestDeps, opts: AppOptions, port: number, host = '0.0.0.0'): Promise<Server> {
  const app = createApp(deps, ingest, opts);
  const t = opts.transport;
  // HTTPS served directly; with a client CA, certificates are asked for and checked per route (hooks need one, the UI not).
  const server: Server = t?.tlsCert && t.tlsKey
    ? createHttpsServer({
      cert: await readFile(t.tlsCert), key: await readFile(t.tlsKey),
      ...(t.tlsClientCa ? { ca: await readFile(t.tlsClientCa), requestCert: true, rejectUnauthorized: false } : {}),
    }, app.callback())
    : createHttpServer(app.callback());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

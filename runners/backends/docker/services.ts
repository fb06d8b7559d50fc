import type Docker from 'dockerode';
import type { Service } from '../../../pipelines/types.ts';
import { engineMessage, removeContainer } from './engine.ts';
import { envList, execOnce } from './exec.ts';

/** How often `ready.run` is tried again. */
const READY_INTERVAL_MS = 500;

export interface StartedService {
  service: Service;
  container: Docker.Container;
}

/**
 * Starts a stage's services, each in the stage container's network
 * namespace (steps reach it at localhost:<port>, and at <name>:<port>
 * through the stage container's hosts file), then waits until each one's
 * `ready.run` passes. Throws naming the service that did not come up; the
 * caller removes what was started (`started` is filled as they start).
 */
export async function startServices(
  docker: Docker, stage: Docker.Container, services: Service[], base: Omit<Docker.ContainerCreateOptions, 'Image'> & { HostConfig: Docker.HostConfig },
  started: StartedService[], log: (line: string) => void, signal?: AbortSignal,
): Promise<void> {
  for (const service of services) {
    let container: Docker.Container;
    try {
      container = await docker.createContainer({
        ...base,
        name: `${base.name}-${service.name}`,
        Image: service.image,
        Env: envList(service.env),
        Cmd: service.command ?? undefined,
        HostConfig: { ...base.HostConfig, NetworkMode: `container:${stage.id}` },
      });
    } catch (err) {
      throw new Error(`service ${service.name}: ${engineMessage(err)}`);
    }
    started.push({ service, container });
    try {
      await container.start();
    } catch (err) {
      throw new Error(`service ${service.name} did not start: ${engineMessage(err)}`);
    }
  }
  for (const { service, container } of started) {
    if (!service.ready) continue;
    const since = Date.now();
    for (;;) {
      if (signal?.aborted) return;
      const state = (await container.inspect()).State;
      if (!state.Running) throw new Error(`service ${service.name} exited with ${state.ExitCode} before it was ready`);
      // One try that hangs is cut at the deadline: it cannot hold the stage past `ready.timeout`.
      const left = Math.max(1000, service.ready.timeoutMs - (Date.now() - since));
      if ((await Promise.race([execOnce(container, service.ready.run), new Promise<null>((r) => setTimeout(() => r(null), left).unref())])) === 0) break;
      if (Date.now() - since > service.ready.timeoutMs) throw new Error(`service ${service.name} was not ready within ${Math.round(service.ready.timeoutMs / 1000)} s (ready.run: ${service.ready.run})`);
      await new Promise((r) => setTimeout(r, READY_INTERVAL_MS));
    }
    log(`forgeline: service ${service.name} ready after ${((Date.now() - since) / 1000).toFixed(1)} s\n`);
  }
}

/** Each service's output, kept at the end of the stage's log under a line naming it; then the services are removed. */
export async function stopServices(started: StartedService[], log: (line: string) => void): Promise<void> {
  for (const { service, container } of started) {
    try {
      const output = await container.logs({ stdout: true, stderr: true, follow: false });
      const text = demux(output);
      log(`── service ${service.name} (${service.image})\n${text}${text.endsWith('\n') || !text ? '' : '\n'}`);
    } catch {
      // A service that never started has no output.
    }
  }
  await Promise.all(started.map(({ container }) => removeContainer(container)));
}

/** A non-TTY container's log stream: 8-byte frame headers (stream, size) before each chunk. */
function demux(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(i + 4);
    parts.push(buffer.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

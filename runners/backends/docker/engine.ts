import Docker from 'dockerode';
import type { PullPolicy } from '../../../pipelines/types.ts';

/** A Docker Engine API client for DOCKER_HOST's forms: unix:///run/podman/podman.sock, tcp://host:2375. */
export function connect(host: string): Docker {
  const url = new URL(host);
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname });
  return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: url.protocol === 'https:' ? 'https' : 'http' });
}

/** The engine's own words for a failure (its JSON `message`), else the client's. */
export function engineMessage(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return (e.json?.message ?? e.message ?? String(err)).trim();
}

const statusOf = (err: unknown) => (err as { statusCode?: number }).statusCode;

/**
 * Removes a container, however the engine is doing: one under load, or one
 * still closing an exec session, may refuse the first time. What stays anyway
 * is left to the sweep of leftovers (removeLeftovers).
 */
export async function removeContainer(container: Docker.Container): Promise<void> {
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      await container.remove({ force: true, v: true });
      return;
    } catch (err) {
      if (statusOf(err) === 404) return;
      await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    }
  }
}

/**
 * Makes sure the engine has `image` as the stage's `pull:` says: `always`
 * pulls, `if-not-present` pulls only when it is missing, `never` refuses a
 * missing one. Answers the image's own variables (its PATH is the steps').
 * A failed pull throws with the engine's message.
 */
export async function ensureImage(docker: Docker, image: string, policy: PullPolicy, log: (line: string) => void): Promise<string[]> {
  const inspect = () => docker.getImage(image).inspect();
  let present = await inspect().then(() => true, (err) => {
    if (statusOf(err) === 404) return false;
    throw new Error(`the engine could not look up the image ${image}: ${engineMessage(err)}`);
  });
  if (!present && policy === 'never') throw new Error(`the image ${image} is not on this worker's engine, and the stage says pull: never`);
  if (policy === 'always' || !present) {
    log(`forgeline: pulling ${image}\n`);
    try {
      const stream = await docker.pull(image);
      await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
        const failed = err?.message ?? events?.find((e) => e.error)?.error;
        if (failed) reject(new Error(failed));
        else resolve();
      }));
      present = true;
    } catch (err) {
      // A local image (built on the worker) that `always` could not refresh is still there to use.
      if (!(policy === 'always' && present)) throw new Error(`pulling ${image} failed: ${engineMessage(err)}`);
      log(`forgeline: pulling ${image} failed (${engineMessage(err)}); using the image the engine has\n`);
    }
  }
  return (await inspect()).Config?.Env ?? [];
}

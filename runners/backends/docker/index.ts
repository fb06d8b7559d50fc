import Docker from 'dockerode';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { packArtifacts } from '../../artifacts.ts';
import type { Backend, StageResult, StageSpec } from '../../backend.ts';
import { runSteps } from '../../process-runner.ts';
import { stepEnvironment } from '../../step-env.ts';
import type { StepProcess, StepProcessOptions } from '../../step-process.ts';
import { closeWorkspace, openWorkspace } from '../../workspace.ts';
import { localBackend } from '../local/index.ts';

/** Where the checkout and the steps' HOME appear inside the stage's container. */
export const WORKSPACE = '/workspace';
const HOME = '/forgeline/home';
/** Labels every container of a stage carries (forgeline.stage is what a cleanup looks for). */
export const STAGE_LABEL = 'forgeline.stage';
const RUN_LABEL = 'forgeline.run';
const WORKER_LABEL = 'forgeline.worker';
/** bash -eo pipefail where the image has bash, else sh -e: the run is the script's $1, never spliced into it. */
const SHELL = 'if command -v bash >/dev/null 2>&1; then exec bash -eo pipefail -c "$1"; fi; exec sh -ec "$1"';

export interface DockerOptions {
  /** The engine: DOCKER_HOST's form (unix:///run/podman/podman.sock, tcp://host:2375); default DOCKER_HOST, else /var/run/docker.sock. */
  host?: string;
  /** `--container-network`: the stage container's network (none, host, a network's name); default the engine's. */
  network?: string;
}

function connect(host: string): Docker {
  const url = new URL(host);
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname });
  return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: url.protocol === 'https:' ? 'https' : 'http' });
}

/**
 * Removes a stage's container, however it is doing: an engine under load, or
 * one still closing an exec session, may refuse the first time. What stays
 * anyway is left to the sweep of leftovers (removeLeftovers).
 */
async function removeContainer(container: Docker.Container): Promise<void> {
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      await container.remove({ force: true, v: true });
      return;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return;
      await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    }
  }
}

const envList = (env: Record<string, string>) => Object.entries(env).map(([k, v]) => `${k}=${v}`);

/**
 * One step exec'd in the stage's container (`bash -eo pipefail`, else `sh -e`), its output
 * streamed as it comes; killing it kills the container (a step's processes
 * have nowhere else to live).
 */
function execSpawner(container: Docker.Container, hostDir: string, user: string | undefined): (opts: StepProcessOptions) => StepProcess {
  return (opts) => {
    let killed = false;
    let stream: NodeJS.ReadWriteStream | undefined;
    const kill = () => {
      if (killed) return;
      killed = true;
      void container.kill().catch(() => {});
      // Podman keeps an exec session's stream open after its processes died: the step ends here, not there.
      (stream as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    };
    const exited = (async () => {
      try {
        const exec = await container.exec({
          Cmd: ['sh', '-c', SHELL, 'forgeline-step', opts.run],
          Env: envList(opts.env),
          WorkingDir: path.posix.join(WORKSPACE, path.relative(hostDir, opts.cwd)),
          AttachStdout: true,
          AttachStderr: true,
          User: user,
        });
        if (killed) return { exitCode: null, signal: 'SIGKILL' as const, error: null };
        const started = await exec.start({ hijack: true, stdin: false });
        stream = started;
        const out = new PassThrough();
        out.on('data', (chunk: Buffer) => opts.onOutput?.(chunk));
        container.modem.demuxStream(started, out, out);
        await new Promise<void>((resolve) => {
          started.on('end', resolve);
          started.on('close', resolve);
          started.on('error', () => resolve());
          if (killed) resolve();
        });
        if (killed) return { exitCode: null, signal: 'SIGKILL' as const, error: null };
        const { ExitCode } = await exec.inspect();
        return { exitCode: ExitCode ?? null, signal: null, error: null };
      } catch (err) {
        return { exitCode: null, signal: null, error: (err as Error).message };
      }
    })();
    return { exited, kill };
  };
}

/**
 * Steps in a container of the stage's `image`, through the Docker Engine
 * API (Docker, or Podman's compatible service): the checkout mounted at
 * /workspace, the clean environment of a step, no privileges, no engine
 * socket, labelled for cleanup and removed afterwards. A stage without an
 * image runs on the host, as with `--backend local`.
 */
export function dockerBackend(opts: DockerOptions = {}): Backend {
  let docker: Docker | undefined;
  const engine = () => (docker ??= connect(opts.host ?? process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'));
  return {
    name: 'docker',
    runsImages: true,
    async runStage(spec: StageSpec): Promise<StageResult> {
      if (!spec.image) return localBackend.runStage(spec);
      const workspace = await openWorkspace(spec).catch(async (err) => {
        await closeWorkspace({ root: path.join(spec.workspaceRoot, spec.id) });
        throw err;
      });
      let container: Docker.Container | undefined;
      try {
        const user = spec.user ? `${spec.user.uid}:${spec.user.gid}` : undefined;
        container = await engine().createContainer({
          name: `forgeline-${spec.id}`.replace(/[^A-Za-z0-9_.-]/g, '_'),
          Image: spec.image,
          // Kept alive between the steps, which are exec'd into it.
          Entrypoint: ['tail'],
          Cmd: ['-f', '/dev/null'],
          WorkingDir: WORKSPACE,
          User: user,
          Env: envList({ ...spec.env, ...stepEnvironment(spec.context, HOME) }),
          Labels: { [STAGE_LABEL]: spec.id, [RUN_LABEL]: String(spec.context.runId), [WORKER_LABEL]: spec.worker ?? '' },
          HostConfig: {
            // No host path but the workspace: HOME lives and dies with the container.
            Binds: [`${workspace.src}:${WORKSPACE}`],
            Tmpfs: { [HOME]: 'rw,exec,mode=1777' },
            NetworkMode: opts.network,
            // A PID 1 that passes signals on: `tail` alone would ignore the stop and hold it for the full grace.
            Init: true,
            Privileged: false,
            SecurityOpt: ['no-new-privileges'],
          },
        });
        await container.start();
        const outcome = await runSteps({
          workdir: workspace.src, steps: spec.steps, env: spec.env, ciEnv: stepEnvironment(spec.context, HOME), timeoutMs: spec.timeoutMs,
          log: spec.log, signal: spec.signal, user: null,
        }, execSpawner(container, workspace.src, user));
        const artifacts = outcome.status === 'success' && spec.keep.length ? await packArtifacts(workspace.src, spec.keep, { maxBytes: spec.artifactMaxBytes }) : null;
        return { ...outcome, artifacts };
      } finally {
        if (container) await removeContainer(container);
        await closeWorkspace(workspace);
      }
    },
    async removeLeftovers(running) {
      // Listed before asking what runs: a stage claimed meanwhile is running by the time it has a container.
      const found = await engine().listContainers({ all: true, filters: { label: [STAGE_LABEL] } });
      const alive = await running(found.map((c) => c.Labels[STAGE_LABEL]!));
      const removed: string[] = [];
      for (const c of found) {
        const id = c.Labels[STAGE_LABEL]!;
        if (alive.has(id)) continue;
        await removeContainer(engine().getContainer(c.Id));
        removed.push(id);
      }
      return removed;
    },
  };
}

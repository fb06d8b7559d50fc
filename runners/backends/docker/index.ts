import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Backend, StageResult, StageSpec } from '../../backend.ts';
import { runSteps } from '../../process-runner.ts';
import { stepEnvironment } from '../../step-env.ts';
import { closeWorkspace, keepOutputs, openWorkspace } from '../../workspace.ts';
import { localBackend } from '../local/index.ts';
import { connect, engineMessage, ensureImage, removeContainer } from './engine.ts';
import { envList, execSpawner, WORKSPACE } from './exec.ts';
import { startServices, stopServices, type StartedService } from './services.ts';

export { WORKSPACE } from './exec.ts';
/** The steps' HOME inside the stage's container: a tmpfs, gone with it. */
const HOME = '/forgeline/home';
/** Labels every container of a stage carries (forgeline.stage is what a cleanup looks for). */
export const STAGE_LABEL = 'forgeline.stage';
const RUN_LABEL = 'forgeline.run';
const WORKER_LABEL = 'forgeline.worker';

export interface DockerOptions {
  /** The engine: DOCKER_HOST's form (unix:///run/podman/podman.sock, tcp://host:2375); default DOCKER_HOST, else /var/run/docker.sock. */
  host?: string;
  /** `--container-network`: the stage container's network (none, host, a network's name); default the engine's. */
  network?: string;
  /** `--cpus`: a stage's CPUs unless its `resources` say otherwise. */
  cpus?: number | null;
  /** `--memory`, in bytes: a stage's memory unless its `resources` say otherwise. */
  memory?: number | null;
}

/** The image's PATH where it sets one: its tools are where it says, not where the worker's are. */
function imagePath(imageEnv: string[]): string | null {
  return imageEnv.find((e) => e.startsWith('PATH='))?.slice(5) ?? null;
}

/**
 * `forgeline-<id>` in the characters engines allow; a matrix instance's id
 * (`12-test (22, pg15)-1`) gets a hash of itself too, so that two ids never
 * come out the same.
 */
function containerName(id: string): string {
  const plain = id.replace(/[^A-Za-z0-9_.-]/g, '_');
  return plain === id ? `forgeline-${id}` : `forgeline-${plain}-${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
}

/**
 * Steps in a container of the stage's `image`, through the Docker Engine
 * API (Docker, or Podman's compatible service): the checkout mounted at
 * /workspace, the clean environment of a step, no privileges, no engine
 * socket, labelled for cleanup and removed afterwards. A stage without an
 * image runs on the host, as with `--backend local`.
 */
export function dockerBackend(opts: DockerOptions = {}): Backend {
  let client: Docker | undefined;
  const host = () => opts.host ?? process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  const engine = () => (client ??= connect(host()));
  // The containers of the stages running here, and whether they are held (paused).
  const live = new Set<Docker.Container>();
  let held = false;
  const pause = (c: Docker.Container, on: boolean) => (on ? c.pause() : c.unpause()).catch(() => {});
  return {
    name: 'docker',
    runsImages: true,
    async unavailable() {
      try {
        await engine().ping();
        return null;
      } catch (err) {
        return `no container engine answers at ${host()} (${engineMessage(err)}): set DOCKER_HOST, or start Docker or \`podman system service\``;
      }
    },
    async runStage(spec: StageSpec): Promise<StageResult> {
      if (!spec.image) return localBackend.runStage(spec);
      const docker = engine();
      const pull = spec.pull ?? 'if-not-present';
      const imageEnv = await ensureImage(docker, spec.image, pull, spec.log);
      for (const service of spec.services ?? []) await ensureImage(docker, service.image, pull, spec.log);
      const workspace = await openWorkspace(spec).catch(async (err) => {
        await closeWorkspace({ root: path.join(spec.workspaceRoot, spec.id) });
        throw err;
      });
      let container: Docker.Container | undefined;
      const services: StartedService[] = [];
      try {
        const user = spec.user ? `${spec.user.uid}:${spec.user.gid}` : undefined;
        const memory = spec.resources?.memory ?? opts.memory ?? null;
        const cpus = spec.resources?.cpus ?? opts.cpus ?? null;
        const ciEnv = { ...stepEnvironment(spec.context, HOME), ...(imagePath(imageEnv) ? { PATH: imagePath(imageEnv)! } : {}) };
        const base = {
          name: containerName(spec.id),
          Labels: { [STAGE_LABEL]: spec.id, [RUN_LABEL]: String(spec.context.runId), [WORKER_LABEL]: spec.worker ?? '' },
          HostConfig: {
            // A PID 1 that passes signals on: `tail` alone would ignore the stop and hold it for the full grace.
            Init: true,
            Privileged: false,
            SecurityOpt: ['no-new-privileges'],
            ...(memory !== null ? { Memory: memory, MemorySwap: memory } : {}),
            ...(cpus !== null ? { NanoCpus: Math.round(cpus * 1e9) } : {}),
            ...(spec.resources?.pids ? { PidsLimit: spec.resources.pids } : {}),
          } as Docker.HostConfig,
        };
        container = await docker.createContainer({
          ...base,
          Image: spec.image,
          // Kept alive between the steps, which are exec'd into it.
          Entrypoint: ['tail'],
          Cmd: ['-f', '/dev/null'],
          WorkingDir: WORKSPACE,
          User: user,
          Env: envList({ ...spec.env, ...ciEnv }),
          HostConfig: {
            ...base.HostConfig,
            // No host path but the workspace: HOME lives and dies with the container.
            Binds: [`${workspace.src}:${WORKSPACE}`],
            Tmpfs: { [HOME]: 'rw,exec,mode=1777' },
            NetworkMode: opts.network,
            // Services share this container's network: their names resolve to it.
            ExtraHosts: (spec.services ?? []).map((s) => `${s.name}:127.0.0.1`),
          },
        });
        await container.start();
        live.add(container);
        if (held) await pause(container, true);
        if (spec.services?.length) {
          try {
            await startServices(docker, container, spec.services, base, services, spec.log, spec.signal);
          } catch (err) {
            if (spec.signal?.aborted) return { status: 'canceled', reason: 'canceled' };
            const reason = (err as Error).message;
            spec.log(`forgeline: ${reason}\n`);
            return { status: 'failure', reason };
          }
          if (spec.signal?.aborted) return { status: 'canceled', reason: 'canceled' };
        }
        const outcome = await runSteps({
          workdir: workspace.src, steps: spec.steps, env: spec.env, ciEnv, timeoutMs: spec.timeoutMs,
          log: spec.log, signal: spec.signal, user: null,
        }, execSpawner(container, workspace.src, user, memory));
        return await keepOutputs(spec, workspace, outcome);
      } finally {
        // Services first: they live in the stage container's network namespace.
        await stopServices(services, spec.log);
        if (container) {
          live.delete(container);
          await removeContainer(container);
        }
        await closeWorkspace(workspace);
      }
    },
    /**
     * A worker cut off from the database pauses its stage containers (the
     * engine freezes their processes), as it stops host steps: a retry never
     * runs beside them. Stages without an image are host steps.
     */
    hold(on: boolean) {
      held = on;
      localBackend.hold?.(on);
      for (const c of live) void pause(c, on);
    },
    async removeLeftovers(running) {
      // Listed before asking what runs: a stage claimed meanwhile is running by the time it has a container.
      const found = await engine().listContainers({ all: true, filters: { label: [STAGE_LABEL] } });
      const alive = await running(found.map((c) => c.Labels[STAGE_LABEL]!));
      const removed: string[] = [];
      for (const c of found) {
        const id = c.Labels[STAGE_LABEL]!;
        if (alive.has(id)) continue;
        const left = engine().getContainer(c.Id);
        // A worker cut off, then killed, leaves its containers paused: an engine may refuse to remove those.
        if (c.State === 'paused') await pause(left, false);
        await removeContainer(left);
        removed.push(id);
      }
      return removed;
    },
  };
}

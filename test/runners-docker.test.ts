// Stages in containers, through a real engine (Podman's Docker-compatible
// service): what a step can see and reach, and that nothing is left behind.
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerBackend, STAGE_LABEL } from '../runners/index.ts';
import { removeLeftovers } from '../scheduler/leftovers.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { waitFor } from './helpers/forgeline.ts';
import { engineMissing, startPodman, type TestEngine } from './helpers/podman.ts';

const missing = engineMissing();

describe.skipIf(missing)(`stages in containers${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let engine: TestEngine;
  let b: Bench;
  let docker: Docker;
  beforeAll(async () => {
    engine = await startPodman();
    docker = new Docker({ socketPath: new URL(engine.host).pathname });
    b = await startBench('acme/containers', { workers: 1, env: { FORGELINE_API_TOKEN: 'containers-admin' }, backend: dockerBackend({ host: engine.host, network: 'none' }) });
  }, 120_000);
  afterAll(async () => {
    await b?.stop();
    await engine?.stop();
  });

  it('runs the steps in the image at /workspace, with no network but lo, no privileges, no engine socket and only a step\'s environment', async () => {
    const probe = [
      'pwd', 'cat tracked.txt', 'cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "', 'grep NoNewPrivs /proc/self/status',
      'grep CapEff /proc/self/status', `test ! -e ${new URL(engine.host).pathname} && test ! -e /var/run/docker.sock && echo no-socket`,
      'echo ENV; env | cut -d= -f1 | sort; echo END',
    ].join('; ');
    const { runs: [id] } = await b.push({
      'tracked.txt': 'from the commit\n',
      '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  probe:\n    image: ${engine.image}\n    env: { GIVEN: yes }\n    steps: [{ run: ${JSON.stringify(probe)} }]\n  fails:\n    image: ${engine.image}\n    steps: [{ run: "exit 3" }]\n`,
    });
    const run = await b.finished(id!, 60_000);
    const log = await b.log(id!, 'probe');
    expect(run.stages.find((s: any) => s.name === 'probe')).toMatchObject({ status: 'success' });
    expect(run.stages.find((s: any) => s.name === 'fails')).toMatchObject({ status: 'failure', reason: 'step 1: exited with 3' });
    const lines = log.split('\n');
    expect(lines).toContain('/workspace');
    expect(lines).toContain('from the commit');
    const interfaces = lines.slice(lines.indexOf('from the commit') + 1, lines.findIndex((l) => l.startsWith('NoNewPrivs')));
    expect(interfaces).toEqual(['lo']);
    expect(log).toMatch(/NoNewPrivs:\s+1/);
    const capEff = BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(log)![1]}`);
    expect(capEff & (1n << 21n)).toBe(0n); // CAP_SYS_ADMIN
    expect(lines).toContain('no-socket');
    const names = lines.slice(lines.indexOf('ENV') + 1, lines.indexOf('END'));
    // What a step gets (docs/pipelines.md), the file's env, and what the runtime and shell add themselves.
    const runtime = new Set(['HOSTNAME', 'container', 'PWD', 'SHLVL', 'OLDPWD', 'TERM']);
    const leaked = names.filter((n) => !runtime.has(n) && !n.startsWith('FORGELINE_') && !['PATH', 'HOME', 'LANG', 'CI', 'GIVEN'].includes(n));
    expect(leaked).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(['CI', 'FORGELINE_SHA', 'GIVEN', 'HOME', 'PATH']));
    for (const name of Object.keys(process.env).filter((n) => !['PATH', 'HOME', 'LANG', 'CI', 'PWD', 'SHLVL', 'OLDPWD', 'TERM', 'HOSTNAME'].includes(n))) {
      expect(names, `the server's ${name}`).not.toContain(name);
    }
    // Nothing of the stages is left on the engine, within 15 s of their end.
    await waitFor(async () => ((await docker.listContainers({ all: true, filters: { label: [STAGE_LABEL] } })).length === 0 ? true : undefined), 'no stage container left', 15_000);
  }, 90_000);

  it('ends a stage past its timeout, leaving no container of it', async () => {
    const { runs: [id] } = await b.push({ '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  stuck:\n    image: ${engine.image}\n    timeout: 5s\n    steps: [{ run: "echo waiting; sleep 600" }]\n` });
    const stage = await b.stage(id!, 'stuck', 'failure', 30_000);
    expect(stage.reason).toBe('step 1: stage timed out');
    expect(await b.log(id!, 'stuck')).toContain('waiting');
    await waitFor(async () => ((await docker.listContainers({ all: true, filters: { label: [`${STAGE_LABEL}=${id}-stuck-1`] } })).length === 0 ? true : undefined), 'the timed-out stage\'s container gone', 20_000);
  }, 60_000);

  it('removes the containers a killed worker left, and only those of stages no longer running', async () => {
    const { runs: [id] } = await b.push({ '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  slow:\n    image: ${engine.image}\n    steps: [{ run: "sleep 30" }]\n` });
    const running = await b.stage(id!, 'slow', 'running', 30_000);
    const create = (labels: Record<string, string>) => docker.createContainer({ Image: engine.image, Entrypoint: ['tail'], Cmd: ['-f', '/dev/null'], Labels: labels, HostConfig: { NetworkMode: 'none', Init: true } })
      .then(async (c) => { await c.start(); return c.id; });
    // What a worker killed with -9 leaves: containers of stages that ended, or never were; and one not ours.
    const ghost = await create({ [STAGE_LABEL]: '999999-unit-tests-1' });
    const other = await create({ purpose: 'not a stage' });
    await removeLeftovers(b.forgeline.runtime.deps);
    const left = (await docker.listContainers({ all: true })).map((c) => c.Id);
    expect(left).not.toContain(ghost);
    expect(left).toContain(other);
    // The stage still running keeps its container.
    const labelled = await docker.listContainers({ all: true, filters: { label: [`${STAGE_LABEL}=${id}-slow-${running.attempt}`] } });
    expect(labelled).toHaveLength(1);
    expect((await b.api(`/runs/${id}/cancel`, { method: 'POST', token: 'containers-admin' })).status).toBe(200);
    await b.stage(id!, 'slow', 'canceled', 30_000);
    await docker.getContainer(other).remove({ force: true });
    await waitFor(async () => ((await docker.listContainers({ all: true, filters: { label: [STAGE_LABEL] } })).length === 0 ? true : undefined), 'the canceled stage\'s container gone', 15_000);
  }, 90_000);
});

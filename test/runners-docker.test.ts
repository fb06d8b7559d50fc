// Stages in containers, through a real engine (Podman's Docker-compatible
// service): what a step can see and reach, and that nothing is left behind.
import Docker from 'dockerode';
import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dockerBackend, STAGE_LABEL } from '../runners/index.ts';
import { removeLeftovers } from '../scheduler/leftovers.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { waitFor } from './helpers/forgeline.ts';
import { forgelineCli } from './helpers/cli.ts';
import { startDatabaseProxy } from './helpers/tcp-proxy.ts';
import { createTestRepo } from './helpers/git-repo.ts';
import { engineMissing, startPodman, type TestEngine } from './helpers/podman.ts';

const missing = engineMissing();

describe.skipIf(missing)(`stages in containers${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let engine: TestEngine;
  let b: Bench;
  let docker: Docker;
  beforeAll(async () => {
    engine = await startPodman();
    docker = new Docker({ socketPath: new URL(engine.host).pathname });
    b = await startBench('acme/containers', { workers: 2, env: { FORGELINE_API_TOKEN: 'containers-admin' }, backend: dockerBackend({ host: engine.host, network: 'none' }) });
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
  it('starts a service in the stage\'s network, waits for its ready check, and steps reach it at localhost and by name', async () => {
    // The service needs 2 s before it listens; ready.run is tried until it answers.
    const web = `mkdir -p /www && echo hello from web > /www/index.html && sleep 2 && exec httpd -f -p 8080 -h /www`;
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  uses:
    image: ${engine.image}
    services:
      web:
        image: ${engine.image}
        command: [sh, -c, ${JSON.stringify(web)}]
        ready: { run: "wget -q -O /dev/null http://localhost:8080/", timeout: 30s }
    steps: [{ run: "wget -q -O- http://localhost:8080/ && wget -q -O- http://web:8080/" }]
  never-ready:
    image: ${engine.image}
    services:
      db: { image: ${engine.image}, command: [sleep, "600"], ready: { run: "false", timeout: 2s } }
    steps: [{ run: "echo never" }]
`,
    });
    const run = await b.finished(id!, 90_000);
    const uses = await b.log(id!, 'uses');
    expect(run.stages.find((s: any) => s.name === 'uses'), uses).toMatchObject({ status: 'success' });
    expect(uses.match(/hello from web/g)).toHaveLength(2);
    expect(uses).toMatch(/forgeline: service web ready after [2-9]\.\d s/);
    // The service's own output is kept in the stage's log, under its name.
    expect(uses).toContain('── service web');
    expect(run.stages.find((s: any) => s.name === 'never-ready')).toMatchObject({ status: 'failure', reason: 'service db was not ready within 2 s (ready.run: false)' });
    expect(await b.log(id!, 'never-ready')).not.toContain('never\n');
    await waitFor(async () => ((await docker.listContainers({ all: true, filters: { label: [STAGE_LABEL] } })).length === 0 ? true : undefined), 'no stage or service container left', 15_000);
  }, 120_000);

  it('runs a 2 × 2 matrix minus one plus one include as its own stages, each with its values, and a stage needing it after all of them', async () => {
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  m:
    image: ${engine.image}
    matrix:
      n: [1, 2]
      os: [x, y]
      exclude: [{ n: 1, os: y }]
      include: [{ n: 3, os: z }]
    env: { WHICH: "\${{ matrix.n }}-\${{ matrix.os }}" }
    steps: [{ run: "echo n=$FORGELINE_MATRIX_N os=$FORGELINE_MATRIX_OS which=$WHICH" }]
  after:
    needs: [m]
    image: ${engine.image}
    steps: [{ run: "echo after" }]
`,
    });
    const run = await b.finished(id!, 120_000);
    const names = ['m (1, x)', 'm (2, x)', 'm (2, y)', 'm (3, z)'];
    expect(run.stages.map((s: any) => s.name)).toEqual([...names, 'after']);
    for (const name of names) {
      const [n, os] = /\((\d), (\w)\)/.exec(name)!.slice(1);
      expect(await b.log(id!, name)).toContain(`n=${n} os=${os} which=${n}-${os}`);
    }
    expect(run.stages.every((s: any) => s.status === 'success')).toBe(true);
    const lastInstance = Math.max(...run.stages.filter((s: any) => names.includes(s.name)).map((s: any) => Date.parse(s.finishedAt)));
    expect(Date.parse(run.stages.find((s: any) => s.name === 'after').startedAt)).toBeGreaterThanOrEqual(lastInstance);
    // Each instance reported its own status context on the commit.
    const contexts = new Set<string>(b.github.statuses.filter((st) => st.sha === run.sha).map((st) => st.context));
    for (const name of names) expect([...contexts].some((c) => c.endsWith(`/${name}`)), name).toBe(true);
  }, 150_000);

  it('restores a cache saved by an earlier run of the same lock file', async () => {
    const pipeline = `on: { push: {} }
stages:
  deps:
    image: ${engine.image}
    cache: [{ key: deps, files: [lock.txt], paths: [vendor] }]
    steps: [{ run: "if [ -f vendor/made ]; then echo restored $(cat vendor/made); else mkdir -p vendor && echo $FORGELINE_SHA > vendor/made && echo fresh; fi" }]
`;
    const first = await b.push({ '.forgeline/ci.yml': pipeline, 'lock.txt': 'v1\n' });
    await b.finished(first.runs[0]!, 60_000);
    expect(await b.log(first.runs[0]!, 'deps')).toContain('fresh');
    const second = await b.push({ '.forgeline/ci.yml': pipeline, 'lock.txt': 'v1\n', 'other.txt': 'changed' });
    await b.finished(second.runs[0]!, 60_000);
    const log = await b.log(second.runs[0]!, 'deps');
    expect(log).toContain(`restored ${first.sha}`);
    expect(log).toMatch(/cache deps-[0-9a-f]{32}: restored 1 file\(s\)\n/);
  }, 120_000);

  it('fails a step that outgrows its memory "out of memory", naming the limit', async () => {
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  hungry:\n    image: ${engine.image}\n    resources: { memory: 64m }\n    steps: [{ run: "head -c 209715200 /dev/zero | tail -n 1 > /dev/null" }]\n`,
    });
    const stage = await b.stage(id!, 'hungry', ['failure', 'success'], 60_000);
    expect(stage).toMatchObject({ status: 'failure', reason: 'step 1: out of memory (limit 64m)' });
  }, 90_000);

  it('fails a stage whose image cannot be had, with the engine\'s words, and pull: never without pulling', async () => {
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  absent:\n    image: localhost/forgeline-test/absent:1\n    pull: never\n    steps: [{ run: "true" }]\n  unreachable:\n    image: localhost:1/nothing/here:1\n    steps: [{ run: "true" }]\n`,
    });
    const run = await b.finished(id!, 60_000);
    expect(run.stages.find((s: any) => s.name === 'absent').reason).toBe('the image localhost/forgeline-test/absent:1 is not on this worker\'s engine, and the stage says pull: never');
    expect(run.stages.find((s: any) => s.name === 'unreachable').reason).toMatch(/^pulling localhost:1\/nothing\/here:1 failed: .+/);
  }, 90_000);

  it('leaves no container of a canceled stage with a service', async () => {
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  long:\n    image: ${engine.image}\n    services:\n      side: { image: ${engine.image}, command: [sleep, "600"] }\n    steps: [{ run: "echo started; sleep 600" }]\n`,
    });
    await waitFor(async () => ((await b.log(id!, 'long')).includes('started') ? true : undefined), 'the step to start', 60_000);
    expect((await docker.listContainers({ all: true, filters: { label: [STAGE_LABEL] } })).length).toBe(2);
    expect((await b.api(`/runs/${id}/cancel`, { method: 'POST', token: 'containers-admin' })).status).toBe(200);
    await b.stage(id!, 'long', 'canceled', 30_000);
    await waitFor(async () => ((await docker.listContainers({ all: true, filters: { label: [STAGE_LABEL] } })).length === 0 ? true : undefined), 'the canceled stage\'s containers gone', 20_000);
  }, 90_000);

  it('forgeline exec runs a stage that names an image in it through the engine, and without one says why and runs nothing', async () => {
    const repo = await createTestRepo();
    await repo.commit({
      'here.txt': 'from the working tree\n',
      '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  m:\n    image: ${engine.image}\n    matrix: { n: [1, 2] }\n    steps: [{ run: "pwd; cat here.txt; echo n=$FORGELINE_MATRIX_N; test ! -e /etc/debian_version && echo in-image" }]\n`,
    });
    const ran = await forgelineCli(['exec', '--stage', 'm', '--container-network', 'none'], { PATH: process.env.PATH, DOCKER_HOST: engine.host }, undefined, repo.work);
    expect(ran.exitCode, ran.stderr).toBe(0);
    expect(ran.stdout).toContain('── m (1)\n');
    expect(ran.stdout.match(/\/workspace\nfrom the working tree\n/g)).toHaveLength(2);
    expect(ran.stdout).toContain('n=2\nin-image');
    const refused = await forgelineCli(['exec'], { PATH: process.env.PATH, DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, undefined, repo.work);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`the pipeline runs stages in images (m (1): ${engine.image}, m (2): ${engine.image}), and no container engine answers at unix:///nonexistent/docker.sock`);
    expect(refused.stdout).not.toContain('── m');
    // --backend local runs the steps on this machine instead, saying so.
    const local = await forgelineCli(['exec', '--backend', 'local'], { PATH: process.env.PATH, DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, undefined, repo.work);
    expect(local.stdout).toContain('forgeline: --backend local: the steps of m (1)');
    expect(local.stdout).toContain(`${repo.work}\nfrom the working tree`);
  }, 60_000);

  /** A real `forgeline worker --backend docker` process with one label, beats every 2 s; killed when the test ends. */
  const bin = fileURLToPath(new URL('../bin/forgeline.js', import.meta.url));
  const started: ResultPromise[] = [];
  const startWorker = async (label: string, databaseUrl?: string) => {
    const env = { ...b.forgeline.env, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), DOCKER_HOST: engine.host, FORGELINE_HEARTBEAT_SECONDS: '2', LOG_LEVEL: 'warn' };
    const child = execa(process.execPath, [bin, 'worker', '--backend', 'docker', '--container-network', 'none', '--labels', label], { env, extendEnv: false, reject: false });
    started.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('started')) resolve(); });
      child.then((r) => reject(new Error(`worker exited: ${r.stderr}`)));
    });
    // Wrapped: an async function returning the subprocess itself would wait for it to exit.
    return { child };
  };
  afterEach(async () => {
    for (const child of started.splice(0)) child.kill('SIGKILL');
    await Promise.all(started);
  });

  it('leaves nothing of a worker killed with -9 once the next worker has started', async () => {
    const { child: doomed } = await startWorker('doomed');
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  held:\n    runs-on: [doomed]\n    image: ${engine.image}\n    services:\n      side: { image: ${engine.image}, command: [sleep, "600"] }\n    steps: [{ run: "echo started; sleep 600" }]\n`,
    });
    await waitFor(async () => ((await b.log(id!, 'held')).includes('started') ? true : undefined), 'the step to start', 60_000);
    const mine = { label: [`${STAGE_LABEL}=${id}-held-1`] };
    doomed.kill('SIGKILL');
    await doomed;
    // Nothing stops containers when their worker dies: they are still there.
    expect(await docker.listContainers({ all: true, filters: mine })).toHaveLength(2);
    await startWorker('doomed');
    // The next worker finds the stage lost (a heartbeat interval) and removes what it left.
    expect(await b.stage(id!, 'held', 'failure', 30_000)).toMatchObject({ reason: 'worker lost' });
    await waitFor(async () => ((await docker.listContainers({ all: true, filters: mine })).length === 0 ? true : undefined), 'the killed worker\'s containers gone', 30_000);
  }, 120_000);

  it('pauses the container of a worker cut off from the database before another retries its stage, and removes it once it can tell', async () => {
    const proxy = await startDatabaseProxy(b.forgeline.env.DATABASE_URL!);
    try {
      await startWorker('cutoff', proxy.url);
      const { runs: [id] } = await b.push({
        '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  held:\n    runs-on: [cutoff]\n    image: ${engine.image}\n    retries: 1\n    steps: [{ run: "if [ $FORGELINE_ATTEMPT = 1 ]; then echo first; while true; do sleep 0.1; done; fi; echo second" }]\n`,
      });
      await waitFor(async () => ((await b.log(id!, 'held')).includes('first') ? true : undefined), 'the first attempt to start', 60_000);
      const first = { label: [`${STAGE_LABEL}=${id}-held-1`] };
      // The other worker reaches the database all along.
      await startWorker('cutoff');
      await new Promise((r) => setTimeout(r, 2500));
      await proxy.cut();
      // Held before anyone may take its stage (a heartbeat interval): the engine freezes the first
      // attempt's container. (On this one engine the other worker's sweep then removes it: on
      // separate machines it would stay paused until its worker hears the database again.)
      const state = await waitFor(async () => {
        const [c] = await docker.listContainers({ all: true, filters: first });
        return c?.State === 'running' ? undefined : c?.State ?? 'gone';
      }, 'the first attempt held', 15_000);
      expect(state).toBe('paused');
      const run = await b.finished(id!, 60_000);
      expect([run.status, run.stages[0].attempt]).toEqual(['success', 2]);
      expect(await b.log(id!, 'held')).toContain('second');
      await proxy.restore();
      await waitFor(async () => ((await docker.listContainers({ all: true, filters: first })).length === 0 ? true : undefined), 'the held container removed', 30_000);
    } finally {
      await proxy.close();
    }
  }, 120_000);
});

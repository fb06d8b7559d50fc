import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken, setSecret } from '../scheduler/index.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { waitFor } from './helpers/forgeline.ts';
import { alive, hostPid, processesWith } from './helpers/process.ts';


describe('runs: cancel, rerun, retries, secrets, artifacts, inputs', () => {
  let b: Bench;
  let admin: string;
  let scratch: string;

  beforeAll(async () => {
    b = await startBench('acme/engine', { workers: 3, env: { FORGELINE_API_TOKEN: 'bootstrap-admin', FORGELINE_ARTIFACT_MAX_BYTES: String(1024 * 1024) } });
    admin = 'bootstrap-admin';
    scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-engine-'));
  });
  afterAll(() => b?.stop());

  it('cancels a running step\'s whole process tree within 2 s and marks the stage canceled', async () => {
    const pidFile = path.join(scratch, 'sleeper.pid');
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  long:\n    steps: [{ run: "sleep 300 & echo $! > ${pidFile}; wait" }]\n  after:\n    needs: [long]\n    steps: [{ run: "true" }]\n`,
    });
    await b.stage(id!, 'long', 'running');
    const sleeper = hostPid(Number(await waitFor(async () => (existsSync(pidFile) ? (await import('node:fs/promises')).readFile(pidFile, 'utf8') : undefined), 'the step to start')), `FORGELINE_RUN_ID=${id}`, `FORGELINE_REPO=${b.name}`)!;
    expect(sleeper).not.toBeNull();
    expect(alive(sleeper)).toBe(true);
    expect((await b.api(`/runs/${id}/cancel`, { method: 'POST' })).status).toBe(401);
    const started = Date.now();
    const cancel = await b.api(`/runs/${id}/cancel`, { method: 'POST', token: admin });
    expect(cancel.body.canceled.sort()).toEqual(['after', 'long']);
    await waitFor(async () => (alive(sleeper) ? undefined : true), 'the step\'s process tree to die', 2000);
    expect(Date.now() - started).toBeLessThan(2000);
    const run = await b.finished(id!);
    expect(run.status).toBe('canceled');
    expect(run.stages.map((s: any) => [s.name, s.status, s.reason])).toEqual([['long', 'canceled', 'canceled by admin'], ['after', 'canceled', 'canceled by admin']]);
  });

  it('retries a failing stage, and reruns a run or one stage with its dependents under the same id', async () => {
    const marker = path.join(scratch, 'flaky');
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  flaky:
    retries: 1
    steps: [{ run: "echo attempt $FORGELINE_ATTEMPT; if [ ! -e ${marker} ]; then touch ${marker}; exit 1; fi" }]
  test:
    needs: [flaky]
    steps: [{ run: "echo testing attempt $FORGELINE_ATTEMPT" }]
  lint:
    steps: [{ run: "true" }]
`,
    });
    const run = await b.finished(id!);
    expect(run.status).toBe('success');
    expect(run.stages.find((s: any) => s.name === 'flaky')).toMatchObject({ status: 'success', attempt: 2 });
    expect(await b.log(id!, 'flaky')).toContain('attempt 2');

    // Rerun, the stage fails its first attempt again, and gets its one retry again.
    await rm(marker);
    const stageRerun = await b.api(`/runs/${id}/stages/flaky/rerun`, { method: 'POST', token: admin });
    expect(stageRerun.body).toMatchObject({ id, attempt: 2, stages: ['flaky', 'test'] });
    const again = await b.finished(id!);
    expect(again.attempt).toBe(2);
    expect(again.status).toBe('success');
    expect(Object.fromEntries(again.stages.map((s: any) => [s.name, s.attempt]))).toEqual({ flaky: 4, test: 2, lint: 1 });
    expect(await b.log(id!, 'flaky')).toContain('attempt 4');
    expect(await b.log(id!, 'test')).toContain('testing attempt 2');
    const whole = await b.api(`/runs/${id}/rerun`, { method: 'POST', token: admin });
    expect(whole.body.stages.sort()).toEqual(['flaky', 'lint', 'test']);
    expect((await b.finished(id!)).attempt).toBe(3);
  });

  it('gives a stage only the secrets it lists, masked in the log in every form', async () => {
    const deps = { pool: b.forgeline.runtime.db.pool, box: b.forgeline.runtime.deps.box };
    await setSecret(deps, { repo: b.name, name: 'DEPLOY_TOKEN', value: 'hunter2-very-secret' }, 'test');
    await setSecret(deps, { repo: b.name, name: 'OTHER', value: 'unlisted-value-123' }, 'test');
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  use:
    secrets: [DEPLOY_TOKEN]
    steps:
      - run: |
          echo "plain $DEPLOY_TOKEN"
          printf 'xx%s' "$DEPLOY_TOKEN" | base64
          printf '%s' "$DEPLOY_TOKEN" | head -c 7; sleep 0.3; printf '%s\\n' "$DEPLOY_TOKEN" | tail -c +8
          echo "other=\${OTHER:-unset}"
`,
    });
    expect((await b.finished(id!)).status).toBe('success');
    const log = await b.log(id!, 'use');
    expect(log).toContain('plain ***');
    expect(log).toContain('other=unset');
    expect(log).not.toContain('hunter2');
    expect(log).not.toContain(Buffer.from('xxhunter2-very-secret').toString('base64').slice(4, 20));
    const secretList = await b.api(`/deliveries?repo=${b.name}`, { token: admin });
    expect(JSON.stringify(secretList.body)).not.toContain('hunter2');
  });

  it('keeps a stage\'s artifacts and restores them into the stages that need it', async () => {
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  build:
    artifacts: ["dist/**", "!dist/tmp/**"]
    steps: [{ run: "mkdir -p dist/tmp && echo built > dist/app.txt && echo scratch > dist/tmp/x && chmod +x dist/app.txt" }]
  test:
    needs: [build]
    steps: [{ run: "cat dist/app.txt && test -x dist/app.txt && test ! -e dist/tmp/x" }]
`,
    });
    const run = await b.finished(id!);
    expect(run.stages.map((s: any) => s.status)).toEqual(['success', 'success']);
    expect(await b.log(id!, 'test')).toContain('built');
  });

  it('fails a stage whose artifacts are over FORGELINE_ARTIFACT_MAX_BYTES, saying so, and skips what needs it', async () => {
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  build:
    artifacts: ["dist/**"]
    steps: [{ run: "mkdir -p dist && head -c 2000000 /dev/zero > dist/big.bin && echo built" }]
  test:
    needs: [build]
    steps: [{ run: "true" }]
`,
    });
    const run = await b.finished(id!);
    const [build, test] = run.stages;
    expect(build).toMatchObject({ status: 'failure', reason: expect.stringContaining('artifacts: artifacts over the size limit: 2000000 bytes in 1 files matched ["dist/**"], the limit (FORGELINE_ARTIFACT_MAX_BYTES) is 1048576 bytes') });
    expect(test).toMatchObject({ status: 'skipped' });
    const log = await b.log(id!, 'build');
    expect(log).toContain('built');
    expect(log).toContain('forgeline: artifacts over the size limit');
    const { rows } = await b.forgeline.runtime.db.pool.query('SELECT count(*)::int AS n FROM artifacts WHERE run_id = $1', [id]);
    expect(rows[0].n).toBe(0);
  });

  it('starts a manual run at a ref with typed inputs given to the steps', async () => {
    await b.push({
      '.forgeline/ci.yml': 'on: { push: { branches: [nothing] } }\nstages: { s: { steps: [{ run: "true" }] } }\n',
      '.forgeline/release.yml': `on:
  manual:
    inputs:
      environment: { type: choice, options: [staging, production], required: true }
      dry: { type: boolean, default: true }
stages:
  go:
    steps: [{ run: "echo to $FORGELINE_INPUT_ENVIRONMENT dry=$FORGELINE_INPUT_DRY on $FORGELINE_BRANCH by $FORGELINE_EVENT" }]
`,
    });
    const { token } = await addToken(b.forgeline.runtime.db.pool, 'ci-bot', 'write', 'test');
    const bad = await b.api('/trigger', { token, body: { repo: b.name, ref: 'main', pipeline: 'release', inputs: { environment: 'moon' } } });
    expect(bad).toMatchObject({ status: 400, body: { error: 'input environment must be one of staging, production' } });
    const reader = (await addToken(b.forgeline.runtime.db.pool, 'viewer', 'read', 'test')).token;
    expect((await b.api('/trigger', { token: reader, body: { repo: b.name, ref: 'main' } })).status).toBe(403);
    const ok = await b.api('/trigger', { token, body: { repo: b.name, ref: 'main', pipeline: 'release', inputs: { environment: 'staging' } } });
    expect(ok.status).toBe(201);
    const run = await b.finished(ok.body.runs[0]);
    expect(run.event).toMatchObject({ kind: 'manual', branch: 'main', sender: 'ci-bot' });
    expect(await b.log(run.id, 'go')).toContain('to staging dry=true on main by manual');
  });

  it('follows a stage\'s log live as server-sent events while it runs', async () => {
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  chatty:\n    steps: [{ run: "for i in 1 2 3; do echo line $i; sleep 0.4; done" }]\n',
    });
    await b.stage(id!, 'chatty', 'running');
    const res = await fetch(`${b.forgeline.url}/api/runs/${id}/stages/chatty/log`, { headers: { accept: 'text/event-stream' } });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const arrivals: Array<[number, string]> = [];
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      for (const m of text.matchAll(/event: log\ndata: (.*)\n\n/g)) if (!arrivals.some(([, d]) => d === m[1])) arrivals.push([Date.now(), m[1]!]);
    }
    const lines = arrivals.map(([, d]) => JSON.parse(d) as string).join('');
    expect(lines).toContain('line 1\nline 2\nline 3');
    expect(text).toContain('event: end\ndata: "success"');
    // Chunks came while the step ran, not all at the end.
    expect(arrivals.length).toBeGreaterThan(1);
  });

  it('kills the whole tree on a step timeout, and goes on past a step that may fail', async () => {
    const pidFile = path.join(scratch, 'timeout.pid');
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  slow:
    steps:
      - name: may fail
        run: exit 2
        continue-on-error: true
      - name: too long
        run: "sleep 300 & echo $! > ${pidFile}; wait"
        timeout: 2s
      - run: echo never
  whole:
    timeout: 1s
    steps: [{ run: "sleep 30" }]
`,
    });
    const run = await b.finished(id!);
    expect(Object.fromEntries(run.stages.map((s: any) => [s.name, [s.status, s.reason]]))).toEqual({
      slow: ['failure', 'too long: timed out'],
      whole: ['failure', 'step 1: stage timed out'],
    });
    const log = await b.log(id!, 'slow');
    expect(log).toContain('forgeline: may fail: exited with 2 (continue-on-error)');
    expect(log).not.toContain('never');
    expect(existsSync(pidFile)).toBe(true);
    await waitFor(async () => (processesWith(`FORGELINE_RUN_ID=${id}`, `FORGELINE_REPO=${b.name}`).length ? undefined : true), 'the timed-out steps\' trees to die', 2000);
  });

  it('runs a concurrency group one at a time keeping the newest pending run, or cancels in progress', async () => {
    // Each run's step waits until the test releases it: no race with the machine's speed.
    const gate = (id: number) => writeFile(path.join(scratch, `release-${id}`), '');
    const file = (cancel: boolean) => `on: { push: {} }\nconcurrency: { group: ship, cancel-in-progress: ${cancel} }\nstages:\n  s:\n    steps: [{ run: "while [ ! -e ${scratch}/release-$FORGELINE_RUN_ID ]; do sleep 0.05; done" }]\n`;
    const first = await b.push({ '.forgeline/ci.yml': file(false), 'g.txt': '1' });
    await b.stage(first.runs[0]!, 's', 'running');
    const second = await b.push({ 'g.txt': '2' });
    expect(await b.stage(second.runs[0]!, 's', 'waiting')).toMatchObject({ waitingFor: 'group' });
    const third = await b.push({ 'g.txt': '3' });
    expect(await b.stage(second.runs[0]!, 's', 'canceled')).toMatchObject({ reason: `superseded by run ${third.runs[0]}` });
    expect((await b.run(third.runs[0]!)).stages[0]).toMatchObject({ status: 'waiting', waitingFor: 'group' });
    await gate(first.runs[0]!);
    expect((await b.finished(first.runs[0]!)).status).toBe('success');
    await b.stage(third.runs[0]!, 's', 'running');
    await gate(third.runs[0]!);
    expect((await b.finished(third.runs[0]!)).status).toBe('success');

    const fourth = await b.push({ '.forgeline/ci.yml': file(true), 'g.txt': '4' });
    await b.stage(fourth.runs[0]!, 's', 'running');
    const fifth = await b.push({ 'g.txt': '5' });
    expect(await b.stage(fourth.runs[0]!, 's', 'canceled')).toMatchObject({ reason: `canceled by run ${fifth.runs[0]} (concurrency group ship)` });
    await gate(fifth.runs[0]!);
    expect((await b.finished(fifth.runs[0]!)).status).toBe('success');
  });

  it('exposes stage outcomes, durations and queue depths at /metrics', async () => {
    const metrics = await (await fetch(`${b.forgeline.url}/metrics`)).text();
    expect(metrics).toMatch(/forgeline_stages_finished_total\{status="success"\} [1-9]/);
    expect(metrics).toMatch(/forgeline_stages_finished_total\{status="canceled"\} [1-9]/);
    expect(metrics).toMatch(/forgeline_stage_duration_seconds_count\{status="success"\} [1-9]/);
    expect(metrics).toMatch(/forgeline_queue_jobs\{queue="stage",state="queued"\} \d+/);
  });
});

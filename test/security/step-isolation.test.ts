// A pipeline's step tries to outlive its stage (setsid, a double fork,
// nohup), and to read a concurrent step's environment, where its secrets are.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setSecret } from '../../scheduler/index.ts';
import { startBench, type Bench } from '../helpers/engine.ts';
import { waitFor } from '../helpers/forgeline.ts';
import { processesWith } from '../helpers/process.ts';

describe('steps under attack from each other', () => {
  let b: Bench;
  let gate: string;
  beforeAll(async () => {
    b = await startBench('acme/isolation', { workers: 2 });
    gate = await mkdtemp(path.join(tmpdir(), 'forgeline-isolation-'));
    await setSecret(b.forgeline.runtime.deps, { repo: b.name, name: 'VAULT', value: 'vault-secret-value-42' }, 'test');
  });
  afterAll(() => b?.stop());

  it('leaves no process of a stage behind once it ends, however the step detached it', async () => {
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  escape:
    steps:
      - run: |
          setsid sleep 600 > /dev/null 2>&1 < /dev/null &
          ( ( sleep 601 > /dev/null 2>&1 < /dev/null & ) & )
          nohup sleep 602 > /dev/null 2>&1 &
          echo escaped
`,
    });
    expect((await b.finished(id!)).status).toBe('success');
    expect(await b.log(id!, 'escape')).toContain('escaped');
    await waitFor(async () => (processesWith(`FORGELINE_RUN_ID=${id}`, `FORGELINE_REPO=${b.name}`).length ? undefined : true), 'every process of the stage to be gone', 15_000);
  });

  it('keeps a step from reading the environment of a concurrent step of another stage', async () => {
    const { runs: [holder] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  hold:
    secrets: [VAULT]
    steps: [{ run: "echo holding; while [ ! -e ${gate}/done ]; do sleep 0.05; done" }]
`,
    });
    await waitFor(async () => ((await b.log(holder!, 'hold')).includes('holding') ? true : undefined), 'the holding step to start');
    // The secret is there: the holding step's environment, read from outside, has it.
    expect(processesWith(`FORGELINE_RUN_ID=${holder}`, `FORGELINE_REPO=${b.name}`).length).toBeGreaterThan(0);
    const { runs: [probe] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  probe:
    steps: [{ run: "echo found=$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\\\\0' '\\\\n' | grep -c vault-secret-value || true)" }]
`,
    }, { branch: 'probe' });
    await b.finished(probe!);
    await writeFile(path.join(gate, 'done'), '');
    await b.finished(holder!);
    expect(await b.log(probe!, 'probe')).toContain('found=0');
  });
});

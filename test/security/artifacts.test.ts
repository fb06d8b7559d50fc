// A step that owns its checkout swaps it for a link to the data dir before its
// artifacts are packed: packing runs with the worker's rights, so without care
// the archive would carry the server's secret key to whoever reads artifacts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBench, type Bench } from '../helpers/engine.ts';
import { ensureUser } from '../helpers/step-user.ts';

const USER = 'forgeline-step';

describe('artifact packing under attack', () => {
  let b: Bench;

  beforeAll(async () => {
    await ensureUser(USER);
    // No FORGELINE_SECRET_KEY: the key is generated into the data dir, the prize.
    b = await startBench('acme/artifacts', { workers: 1, runAs: USER, env: { FORGELINE_SECRET_KEY: '' } });
  });
  afterAll(() => b?.stop());

  it('never packs a byte from outside the checkout, though the step swapped the checkout for a link to the data dir', async () => {
    const data = b.forgeline.config.dataDir;
    const key = readFileSync(path.join(data, 'secret.key'));
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  build:
    artifacts: ["**"]
    steps:
      - run: 'd="$PWD"; cd ..; mv "$d" "$d.moved" && ln -s ${data} "$d" && echo swapped'
`,
    });
    const run = await b.finished(id!);
    expect(await b.log(id!, 'build')).toContain('swapped');
    expect(run.stages[0]).toMatchObject({ status: 'failure', reason: expect.stringMatching(/^artifacts: artifact ".+" is outside the checkout/) });
    const { rows } = await b.forgeline.runtime.db.pool.query('SELECT blob FROM artifacts WHERE run_id = $1', [id]);
    expect(rows).toEqual([]);
    const { rows: chunks } = await b.forgeline.runtime.db.pool.query("SELECT key FROM blob_chunks WHERE key LIKE 'artifacts/' || $1 || '/%'", [id]);
    expect(chunks).toEqual([]);
    // Whatever was stored anywhere for this run holds no byte of the key.
    const { rows: logs } = await b.forgeline.runtime.db.pool.query("SELECT string_agg(chunk, '') AS log FROM stage_logs WHERE run_id = $1", [id]);
    expect(logs[0].log).not.toContain(key.toString('base64').slice(0, 16));
  });
});

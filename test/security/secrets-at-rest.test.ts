// An attacker who can write the database but has not the key moves an
// environment's sealed secret into a row any stage may read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setEnvironment, setSecret } from '../../scheduler/index.ts';
import { secrets } from '../../store/index.ts';
import { startBench, type Bench } from '../helpers/engine.ts';

describe('secrets at rest under attack', () => {
  let b: Bench;
  beforeAll(async () => {
    b = await startBench('acme/sealed', { workers: 1 });
    const deps = b.forgeline.runtime.deps;
    await setEnvironment(deps.pool, { repo: b.name, name: 'production', branches: ['release'], approval: true, approvers: null }, 'test');
    await setSecret(deps, { repo: b.name, environment: 'production', name: 'PROD_KEY', value: 'the-production-key-0123456789' }, 'test');
    await setSecret(deps, { repo: b.name, name: 'PUBLIC', value: 'harmless' }, 'test');
  });
  afterAll(() => b?.stop());

  it('will not open a ciphertext moved to another secret\'s row: the step never sees the value', async () => {
    const pool = b.forgeline.runtime.db.pool;
    await pool.query(`UPDATE secrets SET value = (SELECT value FROM secrets WHERE environment = 'production' AND name = 'PROD_KEY')
      WHERE environment = '' AND name = 'PUBLIC'`);
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  leak:\n    secrets: [PUBLIC]\n    steps: [{ run: \'echo "length ${#PUBLIC}"\' }]\n',
    });
    const run = await b.finished(id!);
    expect(run.stages[0]).toMatchObject({ status: 'failure', reason: expect.stringContaining('secret PUBLIC does not open: it was sealed for another place') });
    expect(await b.log(id!, 'leak')).not.toContain(`length ${'the-production-key-0123456789'.length}`);
  });

  it('binds to their rows the values an earlier version sealed unbound, which then open as before', async () => {
    const { pool, box } = b.forgeline.runtime.deps;
    const repoId = (await pool.query('SELECT id FROM repos WHERE name = $1', [b.name])).rows[0].id;
    await pool.query("INSERT INTO secrets (repo_id, environment, name, value) VALUES ($1, '', 'LEGACY', $2)", [repoId, box.seal('from-an-older-version')]);
    expect(await secrets.bindUnboundSecrets(pool, box)).toBe(1);
    expect(await secrets.secretValues(pool, box, repoId, null, ['LEGACY'])).toEqual({ LEGACY: 'from-an-older-version' });
    expect((await pool.query("SELECT value FROM secrets WHERE name = 'LEGACY'")).rows[0].value).toMatch(/^v2:/);
  });
});

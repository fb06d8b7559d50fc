import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setSecret } from '../scheduler/index.ts';
import { startBench, type Bench } from './helpers/engine.ts';

const USER = 'forgeline-step';

describe('--run-as', () => {
  let b: Bench;

  beforeAll(async () => {
    // The tests run as root, like CI: create the unprivileged step user once.
    if ((await execa('id', ['-u', USER], { reject: false })).exitCode !== 0) {
      await execa('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
    }
    // No FORGELINE_SECRET_KEY: the key is generated into the data dir, where the step user must not read it.
    b = await startBench('acme/isolated', { workers: 1, runAs: USER, env: { FORGELINE_SECRET_KEY: '' } });
    await setSecret({ pool: b.forgeline.runtime.db.pool, box: b.forgeline.runtime.deps.box }, { repo: b.name, name: 'TOKEN', value: 'isolated-secret-value' }, 'test');
  });
  afterAll(() => b?.stop());

  it('runs steps as the user, who cannot read the data dir, the worker or write the mirror', async () => {
    const data = b.forgeline.config.dataDir;
    // What the step must be refused is there, and readable to the worker's own user.
    expect(readFileSync(path.join(data, 'secret.key')).length).toBeGreaterThan(0);
    const attempt = (what: string, cmd: string) => `if ${cmd} >/dev/null 2>&1; then echo "${what}: allowed"; else echo "${what}: refused"; fi`;
    const { sha, runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  probe:
    secrets: [TOKEN]
    steps:
      - run: |
          echo "user=$(id -un)"
          ${attempt('read the secret key', `cat ${data}/secret.key`)}
          ${attempt('list the data dir', `ls ${data}`)}
          ${attempt('list the mirrors', `ls ${data}/mirrors`)}
          ${attempt('write the mirror', `touch ${data}/mirrors/x`)}
          ${attempt('read the worker environment', `cat /proc/${process.pid}/environ`)}
          ${attempt('write the checkout', 'touch here')}
          echo "head=$(git log -1 --format=%H)"
          echo "token=$TOKEN"
`,
    });
    const run = await b.finished(id!);
    expect(run.status).toBe('success');
    const log = await b.log(id!, 'probe');
    expect(log).toContain(`user=${USER}`);
    for (const refused of ['read the secret key', 'list the data dir', 'list the mirrors', 'write the mirror', 'read the worker environment']) {
      expect(log).toContain(`${refused}: refused`);
    }
    expect(log).toContain('write the checkout: allowed');
    expect(log).toContain(`head=${sha}`);
    expect(log).toContain('token=***');
  });
});

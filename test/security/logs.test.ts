// Attacks on stage logs from a pipeline's own steps: output that the store
// cannot hold as text must not make the lines around it vanish.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBench, type Bench } from '../helpers/engine.ts';

describe('stage logs under attack', () => {
  let b: Bench;
  beforeAll(async () => { b = await startBench('acme/logs', { workers: 1 }); });
  afterAll(() => b?.stop());

  it('keeps every line around a NUL byte, the NUL shown as U+FFFD', async () => {
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  noisy:
    steps: [{ run: "echo before; printf 'left\\\\000right\\\\n'; echo after" }]
`,
    });
    expect((await b.finished(id!)).status).toBe('success');
    const log = await b.log(id!, 'noisy');
    expect(log).toContain('before\n');
    expect(log).toContain('left\uFFFDright\n');
    expect(log).toContain('after\n');
  });
});

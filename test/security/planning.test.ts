// Hostile pipeline files, as anyone who can push (a fork's author too) can
// commit them: planning them must end quickly in a failure status that names
// the limit, never in an uncaught exception or a server that stops answering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBench, type Bench } from '../helpers/engine.ts';

/** "Billion laughs": nine aliases of nine aliases, nine levels deep. */
function aliasBomb(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const name = String.fromCharCode(97 + i);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  }
  return `${lines.join('\n')}\non: { push: {} }\nstages: { a: { steps: [{ run: x }] } }\n`;
}

describe('planning hostile pipeline files', () => {
  let b: Bench;
  beforeAll(async () => { b = await startBench('acme/hostile', { workers: 1 }); });
  afterAll(() => b?.stop());

  it('fails a YAML alias bomb and an oversized file with statuses that name the limit', async () => {
    const { runs } = await b.push({
      '.forgeline/laughs.yml': aliasBomb(),
      '.forgeline/huge.yml': `on: { push: {} }\nstages:\n  a:\n    steps:\n${Array(12_000).fill(`      - run: "${'x'.repeat(100)}"`).join('\n')}\n`,
    });
    const reasons = await Promise.all(runs.map(async (id) => (await b.finished(id)).problems?.join('\n') ?? ''));
    expect(reasons.join('\n')).toContain('.forgeline/laughs.yml:1:1: YAML: Excessive alias count indicates a resource exhaustion attack: a pipeline file may use at most 100 aliases');
    expect(reasons.join('\n')).toMatch(/\.forgeline\/huge\.yml:1:1: the file is \d+ bytes; a pipeline file may hold at most 1048576 \(1 MiB\)/);
  });

  it('plans a nested extglob against a long branch name at once, and keeps answering meanwhile', async () => {
    const health: number[] = [];
    let planning = true;
    const probe = (async () => {
      while (planning) {
        const started = performance.now();
        await fetch(`${b.forgeline.url}/healthz`).then((r) => r.arrayBuffer());
        health.push(performance.now() - started);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const started = performance.now();
    const { runs } = await b.push({
      '.forgeline/backtrack.yml': 'on: { push: { branches: ["+(a|a+(a))*(a)"] } }\nstages: { a: { steps: [{ run: x }] } }\n',
    }, { branch: `${'a'.repeat(28)}-x` });
    const took = performance.now() - started;
    planning = false;
    await probe;
    // The branch carries the earlier broken files too: of this file, no run (the pattern is text, and does not match).
    for (const id of runs) expect((await b.run(id)).pipeline).not.toBe('backtrack');
    expect(took).toBeLessThan(10_000);
    expect(Math.max(...health)).toBeLessThan(1000);
  });
});

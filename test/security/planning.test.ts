// Hostile pipeline files, as anyone who can push (a fork's author too) can
// commit them: planning them must end quickly in a failure status that names
// the limit, never in an uncaught exception or a server that stops answering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBench, type Bench } from '../helpers/engine.ts';
import { waitFor } from '../helpers/forgeline.ts';
import { pushPayload, sendGitHubHook } from '../helpers/github-webhook.ts';

/** "Billion laughs": nine aliases of nine aliases, nine levels deep. */
function aliasBomb(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const name = String.fromCharCode(97 + i);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  }
  return `${lines.join('\n')}\non: { push: {} }\nstages: { a: { steps: [{ run: x }] } }\n`;
}

/** Latencies of GET /healthz, every 20 ms, until the returned stop is called. */
function probeHealth(url: string): () => Promise<number[]> {
  const latencies: number[] = [];
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const started = performance.now();
      // A refused probe counts as too slow; the server stopping ends it.
      const ok = await fetch(`${url}/healthz`).then((r) => r.arrayBuffer()).then(() => true, () => false);
      if (!ok) { latencies.push(Infinity); break; }
      latencies.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return async () => {
    probing = false;
    await probe;
    return latencies;
  };
}

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.99) - 1]!;

describe('planning hostile pipeline files', () => {
  let b: Bench;
  beforeAll(async () => { b = await startBench('acme/hostile', { workers: 1 }); });
  afterAll(() => b?.stop());

  it('fails a YAML alias bomb, an oversized file, a pattern with too many wildcards and an overlong condition with statuses that name the limit', async () => {
    const { runs } = await b.push({
      '.forgeline/laughs.yml': aliasBomb(),
      '.forgeline/huge.yml': `on: { push: {} }\nstages:\n  a:\n    steps:\n${Array(12_000).fill(`      - run: "${'x'.repeat(100)}"`).join('\n')}\n`,
      '.forgeline/stars.yml': 'on: { push: { branches: ["*a*a*a*a*a"] } }\nstages: { a: { steps: [{ run: x }] } }\n',
      '.forgeline/long-if.yml': `on: { push: {} }\nif: '${'true && '.repeat(600)}true'\nstages: { a: { steps: [{ run: x }] } }\n`,
    });
    const reasons = await Promise.all(runs.map(async (id) => (await b.finished(id)).problems?.join('\n') ?? ''));
    expect(reasons.join('\n')).toContain('.forgeline/laughs.yml:1:1: YAML: Excessive alias count indicates a resource exhaustion attack: a pipeline file may use at most 100 aliases');
    expect(reasons.join('\n')).toMatch(/\.forgeline\/huge\.yml:1:1: the file is \d+ bytes; a pipeline file may hold at most 1048576 \(1 MiB\)/);
    expect(reasons.join('\n')).toContain(".forgeline/stars.yml:1:26: invalid glob '*a*a*a*a*a': it holds 5 wildcards (* or **); a pattern may hold at most 4");
    expect(reasons.join('\n')).toContain('.forgeline/long-if.yml:2:6: if: the condition is 4804 characters long; one may hold at most 4096');
  });

  it('plans a nested extglob against a long branch name at once, and keeps answering meanwhile', async () => {
    const stopProbe = probeHealth(b.forgeline.url);
    const started = performance.now();
    const { runs } = await b.push({
      '.forgeline/backtrack.yml': 'on: { push: { branches: ["+(a|a+(a))*(a)"] } }\nstages: { a: { steps: [{ run: x }] } }\n',
    }, { branch: `${'a'.repeat(28)}-x` });
    const took = performance.now() - started;
    const health = await stopProbe();
    // The branch carries the earlier broken files too: of this file, no run (the pattern is text, and does not match).
    for (const id of runs) expect((await b.run(id)).pipeline).not.toBe('backtrack');
    expect(took).toBeLessThan(10_000);
    expect(Math.max(...health)).toBeLessThan(1000);
  });
});

// A glob within the pattern limits that still backtracks for a minute on an
// 800-character branch (O(n^4)), and a condition of nested comprehensions.
const GLOB_BOMB = 'on: { push: { branches: ["**/a/**/a/**/a/**/b"] } }\nstages: { a: { steps: [{ run: "true" }] } }\n';
const hundred = `[${Array.from({ length: 100 }, (_, i) => i).join(',')}]`;
const CEL_BOMB = `on: { push: {} }\nif: '${hundred}.all(a, ${hundred}.all(b, ${hundred}.all(c, true)))'\nstages: { a: { steps: [{ run: "true" }] } }\n`;

describe('ten hostile deliveries planned at once', () => {
  let b: Bench;
  beforeAll(async () => { b = await startBench('acme/hostile-many', { workers: 1 }); });
  afterAll(() => b?.stop());

  it('fails each within 30 s naming the limit, while /healthz answers and a plain push still runs', async () => {
    const pushes: Array<{ sha: string; branch: string; kind: 'glob' | 'cel' }> = [];
    for (let i = 0; i < 10; i++) {
      const kind = i < 7 ? 'glob' : 'cel';
      const branch = kind === 'glob' ? `h${i}/${'a/'.repeat(400)}x` : `c${i}`;
      const sha = await b.repo.commit({ '.forgeline/hostile.yml': kind === 'glob' ? GLOB_BOMB : CEL_BOMB }, 'hostile', branch);
      pushes.push({ sha, branch, kind });
    }
    const plain = await b.repo.commit({ '.forgeline/hostile.yml': 'name: plain\non: { push: {} }\nstages: { a: { steps: [{ run: "true" }] } }\n' }, 'plain', 'plain');

    const stopProbe = probeHealth(b.forgeline.url);
    const sent = performance.now();
    const answers = await Promise.all([...pushes, { sha: plain, branch: 'plain' }].map(({ sha, branch }) =>
      sendGitHubHook(b.hook.hookUrl, b.hook.secret, 'push', pushPayload({ name: b.name, cloneUrl: b.repo.cloneUrl }, sha, { branch }))));
    for (const res of answers) expect(res.status).toBe(202);

    const failedWithin = await Promise.all(pushes.map(async ({ sha, kind }) => {
      const status = await waitFor(async () => b.github.statuses.find((s) => s.sha === sha && s.state === 'failure'), `the failure status of ${sha}`, 30_000);
      const took = performance.now() - sent;
      expect(status.context).toBe('forgeline/hostile/push');
      expect(status.description).toMatch(kind === 'glob' ? /^planning took more than 2 s of computing/ : /comprehension steps/);
      return took;
    }));
    const plainRun = (await b.planned(answers[10]!.body.delivery)).runs[0];
    expect((await b.finished(plainRun)).status).toBe('success');
    const health = await stopProbe();

    expect(Math.max(...failedWithin)).toBeLessThan(30_000);
    expect(health.length).toBeGreaterThan(20);
    expect(p99(health)).toBeLessThan(300);
    // The reason is kept whole on the run, the delivery's explain trace says it too.
    const delivery = await b.planned(answers[0]!.body.delivery);
    const run = await b.run(delivery.runs[0]);
    expect(run.reason).toContain('(FORGELINE_PLANNING_SECONDS): a glob or an if: condition in .forgeline/ costs too much');
    expect(delivery.explain[0].pipelines[0]).toMatchObject({ name: 'hostile', triggered: false });
  }, 90_000);
});

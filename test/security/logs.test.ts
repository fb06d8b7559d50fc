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

describe('a step that prints without end', () => {
  const CAP = 16 * 1024 * 1024;
  let b: Bench;
  beforeAll(async () => { b = await startBench('acme/chatty', { workers: 1, env: { FORGELINE_LOG_MAX_BYTES: String(CAP) } }); });
  afterAll(() => b?.stop());

  it('keeps the log to its cap, saying so, in small rows; four readers at once never hold it whole', async () => {
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  chatty:
    steps: [{ run: "head -c 48000000 /dev/zero | tr '\\\\000' x | fold -w 99; echo done" }]
`,
    });
    const run = await b.finished(id!, 120_000);
    expect(run.stages[0].status).toBe('success');
    const { rows: [stored] } = await b.forgeline.runtime.db.pool.query(
      'SELECT sum(octet_length(chunk))::bigint AS bytes, max(octet_length(chunk)) AS largest FROM stage_logs WHERE run_id = $1', [id]);
    expect(Number(stored.bytes)).toBeLessThanOrEqual(CAP + 200);
    expect(Number(stored.bytes)).toBeGreaterThan(CAP - 1024);
    expect(stored.largest).toBeLessThanOrEqual(192 * 1024);

    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 10);
    const logs = await Promise.all(Array.from({ length: 4 }, async () => {
      const res = await fetch(`${b.forgeline.url}/api/runs/${id}/stages/chatty/log`);
      // Read as it comes, keeping only the end: a reader that holds it all would be measured too.
      let bytes = 0;
      let tail = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        bytes += chunk.length;
        tail = (tail + Buffer.from(chunk).toString('latin1')).slice(-300);
      }
      return { bytes, tail };
    }));
    clearInterval(timer);
    for (const log of logs) {
      expect(log.bytes).toBe(Number(stored.bytes));
      expect(log.tail).toContain(`forgeline: the log reached its limit of ${CAP} bytes (FORGELINE_LOG_MAX_BYTES); the rest of the output is not kept`);
      expect(log.tail).not.toContain('done');
    }
    expect((peak - before) / 1024 / 1024).toBeLessThan(200);
  }, 150_000);
});

import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBench, type Bench } from './helpers/engine.ts';

describe('structured logs', () => {
  let b: Bench;
  const lines: Array<Record<string, any>> = [];

  beforeAll(async () => {
    const log = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line)); } });
    b = await startBench('acme/logs', { log });
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('names the delivery and the run on every line about them, from the hook to the stage result', async () => {
    const { runs: [runId], delivery } = await b.push({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  build:\n    steps: [{ run: "echo built" }]\n' });
    await b.finished(runId!);
    const about = (msg: string) => lines.filter((l) => l.msg === msg);
    expect(about('delivery received')).toEqual([expect.objectContaining({ delivery: delivery.id, repo: 'acme/logs', status: 'accepted' })]);
    expect(about('run planned')).toEqual([expect.objectContaining({ delivery: delivery.id, run: runId })]);
    for (const msg of ['stage started', 'stage finished']) {
      expect(about(msg), msg).toEqual([expect.objectContaining({ delivery: delivery.id, run: runId, stage: 'build', attempt: 1 })]);
    }
    // Every line about a run also says which delivery caused it; every line is one JSON object with a level and a time.
    const runLines = lines.filter((l) => l.run !== undefined);
    expect(runLines.length).toBeGreaterThanOrEqual(3);
    expect(runLines.filter((l) => l.delivery === undefined)).toEqual([]);
    expect(lines.every((l) => typeof l.level === 'number' && typeof l.time === 'number' && typeof l.msg === 'string')).toBe(true);
  }, 60_000);
});

// Unauthenticated bodies sent to fill the server's memory: to hooks that do
// not exist, and to a real hook with signatures that will not verify.
import { execa, type ResultPromise } from 'execa';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForgeline, type TestForgeline } from '../helpers/forgeline.ts';
import { alive } from '../helpers/process.ts';

const bin = fileURLToPath(new URL('../../bin/forgeline.js', import.meta.url));
const BODY = Buffer.alloc(25 * 1024 * 1024 - 1024, 'a');

/** POSTs BODY; resolves with the status, or with the error of a connection the server cut. */
function post(url: string, headers: Record<string, string>): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(BODY.length) } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
      req.destroy();
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end(BODY);
  });
}

/** A process's proportional set size, in MB. */
const pss = (pid: number) => Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))![1]) / 1024;

/** The most the server's memory (PSS) grew while `fn` ran, in MB. */
async function peakGrowth(pid: number, fn: () => Promise<unknown>): Promise<number> {
  const before = pss(pid);
  let peak = before;
  const timer = setInterval(() => { peak = Math.max(peak, pss(pid)); }, 10);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, pss(pid)) - before;
}

const refused = (answers: Array<number | string>, statuses: number[]) =>
  // Answered, or cut off before the sender finished sending: either way the body was not kept.
  answers.every((a) => statuses.includes(a as number) || a === 'ECONNRESET' || a === 'EPIPE');

describe('bodies that would fill the server\'s memory before anyone is verified', () => {
  let forgeline: TestForgeline;
  let server: ResultPromise;
  let url: string;
  let hookUrl: string;

  beforeAll(async () => {
    // The database and data dir of a test instance; the server under attack is a process of its own.
    forgeline = await startForgeline({ workers: 0 });
    server = execa(process.execPath, [bin, 'serve', '--port', '0', '--workers', '0'], {
      env: { ...forgeline.env, FORGELINE_UNVERIFIED_PER_MINUTE: '100000', FORGELINE_API_TOKEN: 'attack-admin', LOG_LEVEL: 'error' }, extendEnv: false, reject: false,
    });
    url = await new Promise<string>((resolve, reject) => {
      server.stdout!.on('data', (c: Buffer) => { const m = /listening on (http:\/\/localhost:\d+)/.exec(c.toString()); if (m) resolve(m[1]!.replace('localhost', '127.0.0.1')); });
      server.then((r) => reject(new Error(`serve exited: ${r.stderr}`)));
    });
    const add = await fetch(`${url}/api/repos`, {
      method: 'POST', headers: { authorization: 'Bearer attack-admin', 'content-type': 'application/json' },
      body: JSON.stringify({ forge: 'github', name: 'acme/memory', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9' }),
    });
    hookUrl = `${url}${new URL(((await add.json()) as { hookUrl: string }).hookUrl).pathname}`;
  });
  afterAll(async () => {
    server?.kill('SIGTERM');
    await server;
    await forgeline?.stop();
  });

  it('answers an unknown hook 404 without reading its body: 40 bodies of 25 MiB grow it by less than 200 MB', async () => {
    let answers: Array<number | string> = [];
    const growth = await peakGrowth(server.pid!, async () => {
      answers = await Promise.all(Array.from({ length: 40 }, (_, i) => post(`${url}/hooks/unknown-${i}-${'x'.repeat(24)}`, { 'content-type': 'application/json' })));
    });
    expect(refused(answers, [404, 429])).toBe(true);
    expect(answers).toContain(404);
    expect(growth).toBeLessThan(200);
  });

  it('bounds the bytes of unverified bodies it holds at once: past the bound, 503 with Retry-After', async () => {
    let answers: Array<number | string> = [];
    const growth = await peakGrowth(server.pid!, async () => {
      answers = await Promise.all(Array.from({ length: 40 }, () => post(hookUrl, { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` })));
    });
    expect(answers).toContain(503);
    expect(refused(answers, [401, 503, 429])).toBe(true);
    expect(growth).toBeLessThan(200);
    expect(alive(server.pid!)).toBe(true);
    // Once the flood is over, the hook takes requests again.
    const after = await fetch(hookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'ping' }, body: '{}' });
    expect(after.status).toBe(401);
  });
});

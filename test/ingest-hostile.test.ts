// Hostile input past verification: real deliveries of every forge, each
// mutated at random and then signed as its forge signs, reach the parsers and
// the store. Nothing may answer a 5xx, and the process must live on.
import fc from 'fast-check';
import { postFrom } from './helpers/post-from.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerRepo } from '../ingest/index.ts';
import { FORGE, fixtureText, manifest, repoOf, signed } from './helpers/forge-fixtures.ts';
import { startForgeline, type TestForgeline } from './helpers/forgeline.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a value in a JSON document. */
function paths(value: Json, at: Array<string | number> = []): Array<Array<string | number>> {
  if (value === null || typeof value !== 'object') return [at];
  const keys: Array<string | number> = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [at, ...keys.flatMap((k) => paths((value as Record<string | number, Json>)[k]!, [...at, k]))];
}

/** The document with the value at `path` replaced (or removed, for `undefined`). */
function mutate(doc: Json, path: Array<string | number>, value: Json | undefined): Json {
  if (path.length === 0) return value ?? null;
  const copy = structuredClone(doc) as Record<string | number, Json>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, Json>;
  const last = path.at(-1)!;
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else {
    parent[last] = value;
  }
  return copy;
}

describe('hostile deliveries past verification', () => {
  let forgeline: TestForgeline;
  const hooks = new Map<string, { hookUrl: string; secret: string }>();

  beforeAll(async () => {
    forgeline = await startForgeline({ workers: 0, env: { FORGELINE_UNVERIFIED_PER_MINUTE: '100000' } });
    // The repositories the fixtures name: their events get past the 403 for a foreign repository and are stored.
    for (const f of manifest.filter((m) => m.expect.repo)) {
      const forge = FORGE[f.provider]!;
      const name = repoOf(forge, JSON.parse(fixtureText(f.file)));
      if (hooks.has(`${forge}:${name.toLowerCase()}`)) continue;
      hooks.set(`${forge}:${name.toLowerCase()}`, await registerRepo(
        { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
        { forge, name, cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9' }, 'test'));
    }
  });
  afterAll(() => forgeline?.stop());

  it('never answers a 5xx to a real delivery of any forge with a value changed, removed or replaced, signed as its forge signs', async () => {
    const fixtures = manifest.filter((m) => m.expect.repo).map((f) => {
      const forge = FORGE[f.provider]!;
      const doc = JSON.parse(fixtureText(f.file)) as Json;
      return { forge, headers: f.headers, doc, hook: hooks.get(`${forge}:${repoOf(forge, doc).toLowerCase()}`)! };
    });
    const answers = new Map<number, number>();
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...fixtures),
      fc.nat(),
      fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
      async ({ forge, headers, doc, hook }, pick, value) => {
        const all = paths(doc);
        const body = JSON.stringify(mutate(doc, all[pick % all.length]!, value as Json | undefined));
        const res = await fetch(hook.hookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers, ...signed(forge, hook.secret, body) } });
        await res.arrayBuffer();
        answers.set(res.status, (answers.get(res.status) ?? 0) + 1);
        return res.status < 500;
      }), { numRuns: 300 });
    // Verified, so parsed and stored: accepted, duplicates, ignored, foreign (403) or malformed (400), never refused as unverified.
    expect(answers.get(401) ?? 0).toBe(0);
    expect(answers.get(202) ?? 0).toBeGreaterThan(0);
    expect(answers.get(200) ?? 0).toBeGreaterThan(0);
    expect((await fetch(`${forgeline.url}/healthz`)).status).toBe(200);
  });

  it('takes a pull request number that is no database integer as no number, not as a 500', async () => {
    for (const [file, number] of [['gitea/pr-opened.json', 5e-324], ['gitea/pr-opened.json', 2 ** 40], ['github/pr-reopened.json', -3]] as const) {
      const entry = manifest.find((m) => m.file === file)!;
      const forge = FORGE[entry.provider]!;
      const doc = JSON.parse(fixtureText(file));
      doc.pull_request.number = number;
      doc.pull_request.head.sha = doc.pull_request.head.sha.replace(/^.{8}/, Math.random().toString(16).slice(2, 10).padEnd(8, '0'));
      const body = JSON.stringify(doc);
      const hook = hooks.get(`${forge}:${repoOf(forge, doc).toLowerCase()}`)!;
      const res = await fetch(hook.hookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', ...entry.headers, ...signed(forge, hook.secret, body) } });
      expect([file, number, res.status]).toEqual([file, number, 202]);
    }
  });
});

describe('rate limit per source address', () => {
  let forgeline: TestForgeline;
  let hookUrl: string;

  beforeAll(async () => {
    forgeline = await startForgeline({ workers: 0, env: { FORGELINE_UNVERIFIED_PER_MINUTE: '4' } });
    ({ hookUrl } = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/addresses', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9/api/v3' }, 'test'));
  });
  afterAll(() => forgeline?.stop());

  it('limits the address that sent unverified requests, not another one', async () => {
    const bad = (from: string) => postFrom(from, hookUrl, { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': 'sha256=00' }, '{}');
    const first: number[] = [];
    for (let i = 0; i < 8; i++) first.push(await bad('127.0.0.2'));
    expect(first).toContain(429);
    expect(await bad('127.0.0.3')).toBe(401);
    expect(await bad('127.0.0.2')).toBe(429);
    const { rows } = await forgeline.runtime.db.pool.query<{ source_address: string }>(`SELECT DISTINCT source_address FROM audit_log WHERE action = 'hook.refused.429'`);
    expect(rows.map((r) => r.source_address)).toEqual(['127.0.0.2']);
  });
});

import { expect } from 'vitest';
import { registerRepo } from '../../ingest/index.ts';
import { startFakeGitHub, type FakeGitHub } from './fake-github.ts';
import { startForgeline, waitFor, type TestForgeline, type TestForgelineOptions } from './forgeline.ts';
import { createTestRepo, type TestRepo } from './git-repo.ts';
import { githubExamples, pushPayload, sendGitHubHook } from './github-webhook.ts';

/** A Forgeline, a fake GitHub and one registered repository: what engine tests start from. */
export interface Bench {
  forgeline: TestForgeline;
  github: FakeGitHub;
  repo: TestRepo;
  name: string;
  hook: { id: string; hookUrl: string; secret: string };
  api(path: string, init?: { method?: string; token?: string; body?: unknown }): Promise<{ status: number; body: any }>;
  push(files: Record<string, string>, opts?: { branch?: string; message?: string }): Promise<{ sha: string; runs: number[]; delivery: any }>;
  pullRequest(sha: string, opts: { action?: string; number?: number; head?: string; base?: string; fork?: boolean; merged?: boolean; mergeSha?: string }): Promise<{ runs: number[]; delivery: any }>;
  /** The delivery once planned (its explain trace written). */
  planned(delivery: string): Promise<any>;
  run(id: number): Promise<any>;
  finished(id: number, timeoutMs?: number): Promise<any>;
  stage(id: number, name: string, status: string | string[], timeoutMs?: number): Promise<any>;
  log(id: number, stage: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startBench(name: string, opts: TestForgelineOptions & { forkPrs?: string } = {}): Promise<Bench> {
  const [forgeline, github, repo] = await Promise.all([startForgeline(opts), startFakeGitHub(), createTestRepo()]);
  const hook = await registerRepo(
    { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
    { forge: 'github', name, cloneUrl: repo.cloneUrl, apiUrl: github.apiUrl, forkPrs: opts.forkPrs }, 'test');

  // Reads use the bootstrap token when the instance has one (FORGELINE_PUBLIC_READ off).
  const readToken = forgeline.env.FORGELINE_API_TOKEN;
  const api: Bench['api'] = async (path, init = {}) => {
    const token = init.token ?? (!init.method && !init.body ? readToken : undefined);
    const res = await fetch(`${forgeline.url}/api${path}`, {
      method: init.method ?? (init.body ? 'POST' : 'GET'),
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) },
      body: init.body ? JSON.stringify(init.body) : undefined,
    });
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, body: type.includes('json') ? await res.json() : await res.text() };
  };
  const planned = async (delivery: string) => waitFor(async () => {
    const d = (await api(`/deliveries/${delivery}`)).body;
    return d.explain?.length ? d : undefined;
  }, 'planning');
  const bench: Bench = {
    forgeline, github, repo, name, hook, api, planned,
    async push(files, o = {}) {
      const sha = await repo.commit(files, o.message ?? 'change', o.branch ?? 'main');
      const res = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', pushPayload({ name, cloneUrl: repo.cloneUrl }, sha, { branch: o.branch, message: o.message }));
      expect(res.status).toBe(202);
      const delivery = await planned(res.body.delivery);
      return { sha, runs: delivery.runs, delivery };
    },
    async pullRequest(sha, o) {
      const pr = githubExamples('pull_request').find((p) => p.action === 'opened');
      pr.action = o.action ?? 'opened';
      pr.number = pr.pull_request.number = o.number ?? 7;
      pr.repository.full_name = name;
      Object.assign(pr.pull_request.head, { sha, ref: o.head ?? 'feature' });
      pr.pull_request.head.repo = { ...pr.pull_request.head.repo, full_name: o.fork ? 'stranger/fork' : name };
      pr.pull_request.base.repo.full_name = name;
      pr.pull_request.base.ref = o.base ?? 'main';
      pr.pull_request.merged = o.merged ?? false;
      pr.pull_request.merge_commit_sha = o.mergeSha ?? null;
      const res = await sendGitHubHook(hook.hookUrl, hook.secret, 'pull_request', pr);
      expect(res.status).toBe(202);
      const delivery = await planned(res.body.delivery);
      return { runs: delivery.runs, delivery };
    },
    run: async (id) => (await api(`/runs/${id}`)).body,
    finished: (id, timeoutMs = 30_000) => waitFor(async () => {
      const r = (await api(`/runs/${id}`)).body;
      return ['success', 'failure', 'skipped', 'canceled'].includes(r.status) ? r : undefined;
    }, `run ${id} to finish`, timeoutMs),
    stage: (id, stageName, status, timeoutMs = 30_000) => waitFor(async () => {
      const s = (await api(`/runs/${id}`)).body.stages?.find((x: any) => x.name === stageName);
      return s && [status].flat().includes(s.status) ? s : undefined;
    }, `stage ${stageName} of run ${id} to be ${status}`, timeoutMs),
    log: async (id, stage) => (await api(`/runs/${id}/stages/${stage}/log`)).body,
    async stop() {
      await forgeline.stop();
      await github.close();
    },
  };
  return bench;
}

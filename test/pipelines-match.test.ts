import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { matchPipeline, parsePipelineFile, type ChangedPaths, type Pipeline } from '../pipelines/index.ts';
import { providerFor, type ForgeEvent } from '../providers/index.ts';

const FIXTURES = new URL('./fixtures/webhooks/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('manifest.json', FIXTURES), 'utf8')) as Array<{ file: string; provider: string; headers: Record<string, string> }>;
const FORGE: Record<string, string> = { github: 'github', gitlab: 'gitlab', 'bitbucket-cloud': 'bitbucket', 'bitbucket-server': 'bitbucket-server', gitea: 'gitea' };

/** The normalized events of a real captured delivery, as its forge's parser makes them. */
function eventsOf(file: string): ForgeEvent[] {
  const entry = manifest.find((f) => f.file === file)!;
  const headers = Object.fromEntries(Object.entries(entry.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const result = providerFor(FORGE[entry.provider]!)!.parse.events(headers, JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8')));
  if (result.outcome !== 'events') throw new Error(`${file} has no events`);
  return result.events;
}

function pipeline(on: string, extra = ''): Pipeline {
  const parsed = parsePipelineFile('.forgeline/p.yml', `on:\n${on}\n${extra}stages:\n  s: { steps: [{ run: x }] }\n`);
  if (!parsed.pipeline) throw new Error(JSON.stringify(parsed.problems));
  return parsed.pipeline;
}

async function run(p: Pipeline, event: ForgeEvent, opts: { changed?: ChangedPaths; message?: string; payload?: unknown } = {}) {
  let asked = 0;
  const result = await matchPipeline(p, event, {
    payload: opts.payload ?? {},
    changedPaths: async () => { asked++; return opts.changed ?? { paths: ['src/a.ts'] }; },
    commitMessage: async () => opts.message ?? 'a change',
  });
  return { ...result, askedForPaths: asked > 0 };
}

// file → [pipeline triggers, expected triggered]; one row per (delivery, filter) pair.
const PUSH_CASES: Array<[string, string, boolean]> = [];
for (const file of ['github/push.json', 'gitlab/push.json', 'bitbucket-cloud/push.json', 'gitea/push.json']) {
  PUSH_CASES.push(
    [file, '  push:', true],
    [file, '  push: { branches: [main] }', true],
    [file, '  push: { branches: ["release/**"] }', false],
    [file, '  push: { branches: ["**", "!main"] }', false],
    [file, '  push: { tags: ["v*"] }', false],
    [file, '  pull_request:', false],
  );
}
PUSH_CASES.push(
  ['bitbucket-server/push.json', '  push: { branches: ["renovate-*"] }', true],
  ['bitbucket-cloud/push-forced.json', '  push: { branches: [main] }', false],
  ['gitlab/branch-create.json', '  push: { branches: [changes] }', true],
  ['gitea/push-new-branch.json', '  push: { branches: ["fdsa*"] }', true],
);

const TAG_CASES: Array<[string, string, boolean]> = [
  ['github/tag-push.json', '  push:', true],
  ['github/tag-push.json', '  push: { tags: ["the-tag-*"] }', true],
  ['github/tag-push.json', '  push: { branches: [main] }', false],
  ['gitlab/tag-push.json', '  push: { tags: ["v*"] }', true],
  ['gitlab/tag-push.json', '  push: { tags: ["v1*"] }', false],
  ['bitbucket-cloud/tag-push.json', '  push: { tags: [a], branches: [main] }', true],
  // paths never apply to tags
  ['gitlab/tag-push.json', '  push: { tags: ["v*"], paths: ["nothing/**"] }', true],
];

const PR_CASES: Array<[string, string, boolean]> = [
  ['github/pr-reopened.json', '  pull_request:', true],
  ['github/pr-labeled.json', '  pull_request:', false],
  ['github/pr-labeled.json', '  pull_request: { types: [edited] }', true],
  ['github/pr-closed.json', '  pull_request:', false],
  ['github/pr-closed.json', '  pull_request: { types: [closed] }', true],
  ['github/pr-merged.json', '  merge: { branches: [main] }', true],
  ['github/pr-merged.json', '  merge: { branches: [production] }', false],
  ['github/pr-merged.json', '  pull_request:', false],
  ['github/pr-merged.json', '  push:', false],
  ['gitlab/mr-opened.json', '  pull_request: { branches: [main] }', true],
  ['gitlab/mr-opened.json', '  pull_request: { branches: [develop] }', false],
  ['gitlab/mr-updated-new-commits.json', '  pull_request:', true],
  ['gitlab/mr-edited.json', '  pull_request:', false],
  ['gitlab/mr-merged.json', '  merge:', true],
  ['gitlab/mr-closed.json', '  merge:', false],
  ['gitlab/mr-reopened.json', '  pull_request: { types: [reopened] }', true],
  ['bitbucket-cloud/pr-created.json', '  pull_request: { branches: [niam] }', true],
  ['bitbucket-cloud/pr-updated-new-commits.json', '  pull_request:', true],
  ['bitbucket-cloud/pr-merged.json', '  merge: { branches: [main] }', true],
  ['bitbucket-cloud/pr-declined.json', '  pull_request:', false],
  ['bitbucket-server/pr-opened.json', '  pull_request:', true],
  ['bitbucket-server/pr-opened-from-fork.json', '  pull_request: { branches: [master] }', true],
  ['bitbucket-server/pr-modified-from-fork.json', '  pull_request:', false],
  ['bitbucket-server/pr-merged.json', '  merge: { branches: [master] }', true],
  ['gitea/pr-opened.json', '  pull_request:', true],
  ['gitea/pr-synchronized.json', '  pull_request:', true],
  ['gitea/pr-edited.json', '  pull_request: { types: [edited] }', true],
  ['gitea/pr-closed.json', '  pull_request:', false],
  ['gitea/pr-merged.json', '  merge: { branches: [main] }', true],
  ['gitea/pr-label-updated.json', '  pull_request:', false],
];

describe('trigger matching on real deliveries of every forge', () => {
  it.each([...PUSH_CASES, ...TAG_CASES, ...PR_CASES])('%s with %s → %s', async (file, on, expected) => {
    const [event] = eventsOf(file);
    const result = await run(pipeline(on), event!);
    expect(result.triggered, result.reason).toBe(expected);
    expect(result.reason.length).toBeGreaterThan(0);
  });

  it('plans every ref change of a multi-branch push on its own', async () => {
    const events = eventsOf('bitbucket-server/push-multiple-branches.json');
    const p = pipeline('  push: { branches: [master] }');
    expect(await Promise.all(events.map(async (e) => (await run(p, e)).triggered))).toEqual([false, true]);
  });

  it('starts nothing for deletions', async () => {
    for (const file of ['github/branch-delete.json', 'gitlab/branch-delete.json', 'bitbucket-cloud/branch-delete.json', 'bitbucket-server/tag-delete.json']) {
      const [event] = eventsOf(file);
      expect(await run(pipeline('  push:'), event!)).toMatchObject({ triggered: false, reason: 'deletions start no run' });
    }
  });
});

describe('filter reasons', () => {
  const [push] = eventsOf('github/push.json');
  const [pr] = eventsOf('gitea/pr-label-updated.json');

  it('names the exact filter that rejected the event', async () => {
    expect((await run(pipeline('  push: { branches: [main, "release/**"] }'), { ...push!, branch: 'feature/x' })).reason)
      .toBe("on.push.branches: 'feature/x' matches none of [main, release/**]");
    expect((await run(pipeline('  pull_request:'), pr!)).reason).toBe("on.pull_request.types: 'edited' is not one of [opened, synchronize, reopened]");
    expect((await run(pipeline('  push: { tags: [v*] }'), push!)).reason).toBe("on.push: names only tags, so branch 'main' does not start it");
    expect((await run(pipeline('  pull_request:'), push!)).reason).toBe('on.push: not a trigger of this pipeline');
  });

  it('filters on changed paths only when asked, and runs when they are unknown', async () => {
    expect((await run(pipeline('  push: { branches: [main] }'), push!)).askedForPaths).toBe(false);
    expect((await run(pipeline('  push: { paths: ["src/**"] }'), push!, { changed: { paths: ['src/a.ts', 'README.md'] } })).triggered).toBe(true);
    expect(await run(pipeline('  push: { paths: ["src/**"] }'), push!, { changed: { paths: ['docs/a.md'] } }))
      .toMatchObject({ triggered: false, reason: 'on.push.paths: none of 1 changed file(s) matches [src/**]' });
    expect(await run(pipeline('  push: { paths-ignore: ["docs/**", "**/*.md"] }'), push!, { changed: { paths: ['docs/a.md', 'README.md'] } }))
      .toMatchObject({ triggered: false, reason: 'on.push.paths-ignore: all 2 changed file(s) match [docs/**, **/*.md]' });
    expect((await run(pipeline('  push: { paths-ignore: ["docs/**"] }'), push!, { changed: { paths: ['docs/a.md', 'src/b.ts'] } })).triggered).toBe(true);
    expect(await run(pipeline('  push: { paths: ["src/**"] }'), push!, { changed: { unknown: 'history unavailable: 5ea737297f2e is no longer in the repository (a force push?)' } }))
      .toMatchObject({ triggered: true, reason: expect.stringContaining('changed files unknown (history unavailable') });
    const [mr] = eventsOf('gitlab/mr-opened.json');
    expect((await run(pipeline('  pull_request: { paths: ["app/**"] }'), mr!, { changed: { paths: ['lib/x'] } })).triggered).toBe(false);
  });

  it('skips pushes and pull requests whose head commit says [skip ci] or [ci skip]', async () => {
    const [opened] = eventsOf('gitea/pr-opened.json');
    for (const message of ['Fix typo [skip ci]', 'docs [CI SKIP]']) {
      expect(await run(pipeline('  push:'), push!, { message })).toMatchObject({ triggered: false, reason: expect.stringMatching(/^\[(skip ci|CI SKIP)\] in the head commit's message$/) });
      expect((await run(pipeline('  pull_request:'), opened!, { message })).triggered).toBe(false);
    }
    const [tag] = eventsOf('github/tag-push.json');
    expect((await run(pipeline('  push:'), tag!, { message: 'release [skip ci]' })).triggered).toBe(true);
  });

  it('applies the pipeline `if` over event and payload, and reports a failing one', async () => {
    const [draft] = eventsOf('bitbucket-cloud/pr-updated-to-draft.json');
    // The parser leaves Bitbucket Cloud's update as synchronize: ingest settles it against the last head.
    const notDraft = pipeline('  pull_request: { types: [synchronize, edited] }', 'if: event.pullRequest == null || !event.pullRequest.draft\n');
    expect(draft!.pullRequest!.draft).toBe(true);
    expect(await run(notDraft, draft!)).toMatchObject({ triggered: false, reason: 'if: event.pullRequest == null || !event.pullRequest.draft is false' });
    const urgent = pipeline('  push:', 'if: payload.data.priority in ["high", "critical"]\n');
    expect((await run(urgent, push!, { payload: { data: { priority: 'high' } } })).triggered).toBe(true);
    expect((await run(urgent, push!, { payload: { data: { priority: 'low' } } })).triggered).toBe(false);
    expect(await run(urgent, push!, { payload: {} })).toMatchObject({ triggered: false, error: expect.stringMatching(/^if: /) });
  });

  it('matches manual, schedule and webhook events by their own keys', async () => {
    const base = { ...push!, ref: null, before: null, created: false, forced: false, pullRequest: null };
    expect((await run(pipeline('  manual:'), { ...base, kind: 'manual' })).triggered).toBe(true);
    expect((await run(pipeline('  push:'), { ...base, kind: 'manual' })).triggered).toBe(false);
    expect((await run(pipeline('  schedule: [{ cron: "0 3 * * *" }]'), { ...base, kind: 'schedule' })).triggered).toBe(true);
    const hook = pipeline('  webhook: { sources: [helpdesk], types: ["ticket.*"] }');
    expect((await run(hook, { ...base, kind: 'webhook', source: 'helpdesk', type: 'ticket.created' })).triggered).toBe(true);
    expect(await run(hook, { ...base, kind: 'webhook', source: 'helpdesk', type: 'order.paid' }))
      .toMatchObject({ triggered: false, reason: "on.webhook.types: 'order.paid' matches none of [ticket.*]" });
    expect((await run(hook, { ...base, kind: 'webhook', source: 'payments', type: 'ticket.created' })).triggered).toBe(false);
  });
});

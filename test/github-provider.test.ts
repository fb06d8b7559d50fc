import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { github } from '../providers/github/index.ts';
import type { ForgeEvent } from '../providers/types.ts';
import { githubExamples, signGitHub } from './helpers/github-webhook.ts';

const FIXTURES = new URL('./fixtures/webhooks/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('manifest.json', FIXTURES), 'utf8')) as Array<{
  file: string; provider: string; headers: Record<string, string>; expect: Record<string, any>;
}>;

function parse(event: string, payload: unknown) {
  return github.parse.events({ 'x-github-event': event }, payload);
}

describe('GitHub signatures', () => {
  const body = Buffer.from('{"zen":"Keep it logically awesome."}');
  const secrets = ['old-secret', 'new-secret'];

  it('accepts the HMAC of any active secret', () => {
    for (const s of secrets) expect(github.verify.proves({ 'x-hub-signature-256': signGitHub(s, body) }, body, secrets)).toBe(true);
  });

  it('refuses a missing, foreign, uppercase or SHA-1 signature', () => {
    const good = signGitHub('new-secret', body);
    expect(github.verify.proves({}, body, secrets)).toBe(false);
    expect(github.verify.proves({ 'x-hub-signature-256': signGitHub('other', body) }, body, secrets)).toBe(false);
    expect(github.verify.proves({ 'x-hub-signature-256': good.toUpperCase() }, body, secrets)).toBe(false);
    expect(github.verify.proves({ 'x-hub-signature-256': `sha256=${good.slice(7).toUpperCase()}` }, body, secrets)).toBe(false);
    expect(github.verify.proves({ 'x-hub-signature-256': good.slice(0, -2) }, body, secrets)).toBe(false);
    expect(github.verify.proves({ 'x-hub-signature': good.replace('sha256', 'sha1') }, body, secrets)).toBe(false);
    expect(github.verify.proves({ 'x-hub-signature-256': good }, body, [])).toBe(false);
  });

  it('refuses any single-byte change of the body or of the signature', () => {
    const signature = signGitHub('new-secret', body);
    fc.assert(fc.property(fc.nat(body.length - 1), fc.integer({ min: 1, max: 255 }), (index, delta) => {
      const changed = Buffer.from(body);
      changed[index] = (changed[index]! + delta) % 256;
      return github.verify.proves({ 'x-hub-signature-256': signature }, changed, secrets) === false;
    }));
    const signatureBytes = Buffer.from(signature, 'latin1');
    fc.assert(fc.property(fc.nat(signatureBytes.length - 1), fc.integer({ min: 1, max: 255 }), (index, delta) => {
      const changed = Buffer.from(signatureBytes);
      changed[index] = (changed[index]! + delta) % 256;
      return github.verify.proves({ 'x-hub-signature-256': changed.toString('latin1') }, body, secrets) === false;
    }));
  });
});

describe('GitHub payloads', () => {
  const fixtures = manifest.filter((f) => f.provider === 'github');

  it.each(fixtures.map((f) => [f.file, f] as const))('%s parses to its expectation', (_file, fixture) => {
    const payload = JSON.parse(readFileSync(new URL(fixture.file, FIXTURES), 'utf8'));
    const result = parse(fixture.headers['X-GitHub-Event']!, payload);
    const want = fixture.expect;
    if (want.kind === 'ping') {
      expect(result.outcome).toBe('ignored');
      return;
    }
    expect(result.outcome).toBe('events');
    const [event] = (result as { events: ForgeEvent[] }).events as [ForgeEvent];
    expect(event.kind).toBe(want.kind);
    expect(event.repo.name).toBe(want.repo);
    for (const key of ['ref', 'branch', 'tag', 'sha', 'before', 'deleted', 'created', 'forced', 'action'] as const) {
      if (key in want) expect(event[key], key).toBe(want[key]);
    }
    if (want.pr) {
      const { merged: _merged, ...pr } = want.pr;
      expect(event.pullRequest).toMatchObject(pr);
    }
  });

  it('parses every push and pull_request example of @octokit/webhooks-examples with every field present', () => {
    const keys = ['forge', 'kind', 'action', 'repo', 'ref', 'branch', 'tag', 'sha', 'before', 'created', 'deleted', 'forced', 'message', 'pullRequest', 'sender', 'source', 'type'];
    let parsed = 0;
    for (const name of ['push', 'pull_request']) {
      for (const payload of githubExamples(name)) {
        const result = parse(name, payload);
        if (result.outcome !== 'events') {
          expect(result).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/is not acted on/) });
          continue;
        }
        for (const event of result.events) {
          expect(Object.keys(event).sort()).toEqual([...keys].sort());
          expect(event.repo.name).toBe(payload.repository.full_name);
          if (!event.deleted) expect(event.sha).toMatch(/^[0-9a-f]{40}$/);
          parsed++;
        }
      }
    }
    expect(parsed).toBeGreaterThan(10);
  });

  it('maps each pull_request example\'s action as the normalized event says, with the pull request\'s own number and head', () => {
    const expected = (p: any): string | null => {
      if (p.action === 'closed') return p.pull_request.merged ? 'merged' : 'closed';
      if (['opened', 'synchronize', 'reopened'].includes(p.action)) return p.action;
      if (['edited', 'labeled', 'unlabeled', 'ready_for_review', 'converted_to_draft'].includes(p.action)) return 'edited';
      return null;
    };
    const seen = new Set<string>();
    for (const payload of githubExamples('pull_request')) {
      const result = parse('pull_request', payload);
      const want = expected(payload);
      if (want === null) {
        expect(result.outcome, payload.action).toBe('ignored');
        continue;
      }
      const [event] = (result as { events: ForgeEvent[] }).events as [ForgeEvent];
      expect([payload.action, event.action]).toEqual([payload.action, want]);
      expect(event.pullRequest).toMatchObject({ number: payload.number, headSha: payload.pull_request.head.sha, headRef: payload.pull_request.head.ref, baseRef: payload.pull_request.base.ref });
      seen.add(want);
    }
    // The examples cover what is acted on, so a mapping dropped is a failure here.
    expect([...seen].sort()).toEqual(expect.arrayContaining(['closed', 'edited', 'opened', 'reopened', 'synchronize']));
  });

  it('tells a pull request from a fork, or from a fork since deleted, from one within the repository', () => {
    const base = githubExamples('pull_request').find((p) => p.action === 'opened');
    const fromFork = structuredClone(base);
    fromFork.pull_request.head.repo = { ...fromFork.pull_request.head.repo, full_name: 'forker/app', id: 999 };
    const deleted = structuredClone(base);
    deleted.pull_request.head.repo = null;
    const pr = (p: any) => (parse('pull_request', p) as { events: ForgeEvent[] }).events[0]!.pullRequest!;
    expect(pr(base)).toMatchObject({ fromFork: false, headRepo: base.repository.full_name });
    expect(pr(fromFork)).toMatchObject({ fromFork: true, headRepo: 'forker/app' });
    expect(pr(deleted)).toMatchObject({ fromFork: true, headRepo: null });
  });

  it('peels an annotated tag push to the commit it points at', () => {
    const payload = githubExamples('push').find((p) => p.ref.startsWith('refs/tags/') && p.head_commit);
    payload.after = 'f'.repeat(40);
    const [event] = (parse('push', payload) as { events: ForgeEvent[] }).events;
    expect(event).toMatchObject({ kind: 'tag', sha: payload.head_commit.id });
  });
});

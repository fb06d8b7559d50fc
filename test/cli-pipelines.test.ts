import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { forgelineCli } from './helpers/cli.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';
import { githubExamples, pushPayload } from './helpers/github-webhook.ts';

const env = { PATH: process.env.PATH };

const CI = `on:
  push:
    branches: [main]
    paths: ["src/**"]
  pull_request:
stages:
  build:
    steps: [{ run: make }]
  deploy:
    needs: [build]
    if: event.branch == "main"
    steps: [{ run: ./deploy }]
`;
const DOCS = `name: docs
on:
  push:
    branches: ["docs/**"]
stages:
  publish:
    steps: [{ run: mkdocs build }]
`;
const BROKEN = `on:
  push:
stages:
  test:
    needs: [nope]
    steps:
      - run: make test
        shel: zsh
`;

describe('forgeline validate and explain', () => {
  let repo: TestRepo;
  let sha: string;
  let initial: string;

  beforeAll(async () => {
    repo = await createTestRepo();
    initial = await repo.commit({ 'src/a.c': 'int a;' }, 'initial');
    sha = await repo.commit({ '.forgeline/ci.yml': CI, '.forgeline/docs.yml': DOCS, 'src/a.c': 'int a = 1;' }, 'change src');
  });

  it('validates the files of the current directory and exits 0', async () => {
    const result = await forgelineCli(['validate'], env, undefined, repo.work);
    expect(result.stdout).toBe('2 file(s) valid');
    expect(result.exitCode).toBe(0);
  });

  it('prints every problem as file:line:col: message and exits 1', async () => {
    await writeFile(path.join(repo.work, '.forgeline', 'broken.yml'), BROKEN);
    const result = await forgelineCli(['validate'], env, undefined, repo.work);
    expect(result.exitCode).toBe(1);
    expect(result.stdout.split('\n')).toEqual([
      ".forgeline/broken.yml:8:9: /stages/test/steps/0: unknown key 'shel'",
    ]);
    const json = await forgelineCli(['validate', '--json', '.forgeline/ci.yml', '.forgeline/broken.yml'], env, undefined, repo.work);
    expect(JSON.parse(json.stdout).problems).toEqual([{ file: '.forgeline/broken.yml', line: 8, col: 9, message: "/stages/test/steps/0: unknown key 'shel'" }]);
  });

  it('explains a push: which pipelines and stages run, and the filter that rejected the others', async () => {
    const payloadFile = path.join(repo.work, '..', 'push.json');
    await writeFile(payloadFile, JSON.stringify(pushPayload({ name: 'acme/widget', cloneUrl: repo.cloneUrl }, sha, { before: initial })));
    const result = await forgelineCli(['explain', '--forge', 'github', '--event-header', 'push', '--payload', payloadFile, '--repo', repo.work, '--json'], env);
    expect(result.stderr).toBe('');
    const [entry] = JSON.parse(result.stdout).events;
    expect(entry.event).toMatchObject({ kind: 'push', branch: 'main', sha });
    const byName = Object.fromEntries(entry.pipelines.map((p: any) => [p.name, p]));
    expect(byName.ci).toMatchObject({
      file: '.forgeline/ci.yml', triggered: true,
      stages: [{ name: 'build', runs: true, reason: 'no condition' }, { name: 'deploy', runs: true, reason: 'if: event.branch == "main" is true' }],
    });
    expect(byName.ci.reason).toContain('on.push.paths matched');
    expect(byName.docs).toMatchObject({ triggered: false, reason: "on.push.branches: 'main' matches none of [docs/**]", stages: [] });

    const text = await forgelineCli(['explain', '--forge', 'github', '--event-header', 'push', '--payload', payloadFile, '--repo', repo.work], env);
    expect(text.stdout).toContain("skipped   docs (.forgeline/docs.yml): on.push.branches: 'main' matches none of [docs/**]");
  });

  it('explains a pull request from GitHub\'s own example payload, and says so for events it ignores', async () => {
    const pr = githubExamples('pull_request').find((p) => p.action === 'opened');
    pr.pull_request.head.sha = sha;
    const file = path.join(repo.work, '..', 'pr.json');
    await writeFile(file, JSON.stringify(pr));
    const result = await forgelineCli(['explain', '--forge', 'github', '--event-header', 'pull_request', '--payload', file, '--repo', repo.work, '--json'], env);
    const [entry] = JSON.parse(result.stdout).events;
    expect(entry.pipelines.find((p: any) => p.name === 'ci')).toMatchObject({ triggered: true });
    const ignored = await forgelineCli(['explain', '--forge', 'github', '--event-header', 'star', '--payload', file, '--repo', repo.work], env);
    expect(ignored.stdout).toContain("ignored: event 'star' is not acted on");
  });
});

describe('forgeline exec', () => {
  it('runs a pipeline from the working tree with the same variables, stages in needs order, without a database', async () => {
    const repo = await createTestRepo();
    const sha = await repo.commit({
      '.forgeline/ci.yml': `on: { push: {} }
env: { GREETING: hello }
stages:
  test:
    needs: [build]
    steps: [{ run: "cat out.txt && echo $GREETING from $FORGELINE_STAGE" }]
  build:
    steps: [{ run: "echo built at $FORGELINE_SHA on $FORGELINE_BRANCH > out.txt" }]
  only-prs:
    if: event.kind == "pull_request"
    steps: [{ run: "echo pr" }]
  broken:
    needs: [build]
    steps: [{ run: "exit 4" }]
  elsewhere:
    steps: [{ run: "true", working-directory: app }]
`,
    });
    const result = await forgelineCli(['exec'], { PATH: process.env.PATH }, undefined, repo.work);
    expect(result.exitCode).toBe(1);
    const out = result.stdout;
    expect(out.indexOf('── build')).toBeLessThan(out.indexOf('── test'));
    expect(out).toContain(`built at ${sha} on main`);
    expect(out).toContain('hello from test');
    expect(out).toContain('── only-prs: skipped (if: event.kind == "pull_request" is false)');
    expect(out).toContain('── broken: failure (step 1: exited with 4)');
    expect(out).toContain("── elsewhere: failure (step 1: working-directory 'app' does not exist in the checkout)");
    const one = await forgelineCli(['exec', '--stage', 'only-prs', '--event', 'pull_request'], { PATH: process.env.PATH }, undefined, repo.work);
    expect(one.exitCode).toBe(0);
    expect(one.stdout).toContain('── only-prs: success');
  });

  it('retries and decides `if: stages.*` as a worker does, and runs the pipeline named by --pipeline', async () => {
    const repo = await createTestRepo();
    await repo.commit({
      '.forgeline/a.yml': 'name: first\non: { push: {} }\nstages:\n  s: { steps: [{ run: "echo first" }] }\n',
      '.forgeline/b.yml': `name: second
on: { push: {} }
stages:
  flaky:
    retries: 1
    steps: [{ run: 'echo attempt $FORGELINE_ATTEMPT; test $FORGELINE_ATTEMPT = 2' }]
  broken:
    steps: [{ run: 'exit 3' }]
  cleanup:
    needs: [broken]
    if: stages.broken.result == "failure"
    steps: [{ run: 'echo cleaning up' }]
  after-success:
    needs: [broken]
    if: stages.broken.result == "success"
    steps: [{ run: 'echo never' }]
  never:
    needs: [broken]
    steps: [{ run: 'echo never' }]
`,
    });
    const result = await forgelineCli(['exec', '--pipeline', 'second'], { PATH: process.env.PATH }, undefined, repo.work);
    const out = result.stdout;
    expect(out).not.toContain('first');
    expect(out).toMatch(/\nattempt 1\n── flaky \(attempt 2\)\n▶ [^\n]*\nattempt 2\n── flaky: success\n/);
    expect(out).toContain('── broken: failure (step 1: exited with 3)');
    expect(out).toContain('cleaning up');
    expect(out).toContain('── cleanup: success');
    expect(out).toContain('── after-success: skipped (if: stages.broken.result == "success" is false)');
    expect(out).toContain("── never: skipped (needs 'broken', which ended failure)");
    expect(out).not.toContain('never\n── never');
    expect(result.exitCode).toBe(1);
  });
});

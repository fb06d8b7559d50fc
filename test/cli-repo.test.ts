// `forgeline repo add --forge F` for every forge, and a secret's rotation,
// through the real command in its own process against a running Forgeline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgelineCli } from './helpers/cli.ts';
import { FORGE, fixtureText, manifest, signed } from './helpers/forge-fixtures.ts';
import { startForgeline, waitFor, type TestForgeline } from './helpers/forgeline.ts';

/** Each forge's captured push, renamed to the repository registered here. */
const PUSHES: Record<string, { file: string; rename(payload: any, name: string): void }> = {
  github: { file: 'github/push.json', rename: (p, name) => { p.repository.full_name = name; } },
  gitlab: { file: 'gitlab/push.json', rename: (p, name) => { p.project.path_with_namespace = name; } },
  bitbucket: { file: 'bitbucket-cloud/push.json', rename: (p, name) => { p.repository.full_name = name; } },
  'bitbucket-server': {
    file: 'bitbucket-server/push.json',
    rename: (p, name) => { const [key, slug] = name.split('/'); p.repository = { ...p.repository, slug, project: { ...p.repository.project, key } }; },
  },
  gitea: { file: 'gitea/push.json', rename: (p, name) => { p.repository.full_name = name; } },
};

describe('forgeline repo', () => {
  let forgeline: TestForgeline;
  beforeAll(async () => { forgeline = await startForgeline({ workers: 0 }); });
  afterAll(() => forgeline?.stop());

  /** Sends the forge's push for `name`, signed with `secret`, to `hookUrl`; answers the HTTP status. */
  async function deliver(forge: string, name: string, hookUrl: string, secret: string): Promise<number> {
    const push = PUSHES[forge]!;
    const payload = JSON.parse(fixtureText(push.file));
    push.rename(payload, name);
    const body = JSON.stringify(payload);
    const headers = manifest.find((m) => m.file === push.file)!.headers;
    const res = await fetch(hookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers, ...signed(forge, secret, body) } });
    await res.arrayBuffer();
    return res.status;
  }

  it('adds a repository of every forge, whose hook then takes that forge\'s deliveries', async () => {
    const forges = [...new Set(Object.values(FORGE))];
    const added = await Promise.all(forges.map(async (forge) => {
      const name = forge === 'bitbucket-server' ? 'CLI/added' : 'cli/added';
      const cli = await forgelineCli(['repo', 'add', '--forge', forge, '--name', name, '--clone-url', 'file:///nowhere.git', '--api-url', 'http://127.0.0.1:9'], forgeline.clientEnv);
      expect(cli.stderr, forge).toBe('');
      expect(cli.exitCode, forge).toBe(0);
      return { forge, name, ...JSON.parse(cli.stdout) as { hookUrl: string; secret: string } };
    }));
    for (const { forge, name, hookUrl, secret } of added) {
      expect(hookUrl, forge).toMatch(/^http:\/\/forgeline\.test\/hooks\/[A-Za-z0-9_-]{22,}$/);
      expect([forge, await deliver(forge, name, hookUrl.replace('http://forgeline.test', forgeline.url), secret)]).toEqual([forge, 202]);
    }
    const list = JSON.parse((await forgelineCli(['repo', 'list', '--json'], forgeline.clientEnv)).stdout) as Array<{ forge: string; name: string }>;
    expect(list.map((r) => r.forge).sort()).toEqual([...forges].sort());
  });

  it('rotates a secret keeping the old one valid, and retires it', async () => {
    const add = JSON.parse((await forgelineCli(['repo', 'add', '--forge', 'gitea', '--name', 'cli/rotated', '--clone-url', 'file:///nowhere.git', '--api-url', 'http://127.0.0.1:9'], forgeline.clientEnv)).stdout);
    const hookUrl = add.hookUrl.replace('http://forgeline.test', forgeline.url);
    const rotated = JSON.parse((await forgelineCli(['repo', 'rotate-secret', 'cli/rotated'], forgeline.clientEnv)).stdout);
    expect(rotated.secret).not.toBe(add.secret);
    // Verified: accepted, or a duplicate of the same push (200); refused: 401. The hook's secrets
    // are cached for a moment: the new one is taken once the cache has moved on.
    const verified = async (secret: string) => (await deliver('gitea', 'cli/rotated', hookUrl, secret)) !== 401;
    await waitFor(async () => ((await verified(rotated.secret)) ? true : undefined), 'the new secret to be taken');
    expect(await verified(add.secret)).toBe(true);
    const retired = await forgelineCli(['repo', 'rotate-secret', 'cli/rotated', '--retire-old'], forgeline.clientEnv);
    expect(JSON.parse(retired.stdout)).toMatchObject({ retired: 1 });
    await waitFor(async () => ((await verified(add.secret)) ? undefined : true), 'the old secret to be refused');
    expect(await verified(rotated.secret)).toBe(true);
  });

  it('refuses a file:// clone URL unless the server has FORGELINE_ALLOW_LOCAL=true, saying so', async () => {
    const strict = await startForgeline({ workers: 0, env: { FORGELINE_ALLOW_LOCAL: 'false' } });
    try {
      const add = await forgelineCli(['repo', 'add', '--forge', 'github', '--name', 'acme/local', '--clone-url', 'file:///srv/x.git'], strict.clientEnv);
      expect([add.exitCode, add.stderr.trim()]).toEqual([1, "forgeline: clone URL 'file:///srv/x.git': file:// URLs need FORGELINE_ALLOW_LOCAL=true on the server"]);
    } finally {
      await strict.stop();
    }
  });
});

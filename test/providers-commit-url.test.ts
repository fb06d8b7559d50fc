// The commit's page on each forge, from the clone URLs real deliveries carry.
import { describe, expect, it } from 'vitest';
import { providerFor } from '../providers/index.ts';

const SHA = '76797d54bca87db6d1e3e82ee40622c7908aa514';

describe('commit pages', () => {
  const cases: Array<[string, string, string | null]> = [
    ['github', 'https://github.com/Codertocat/Hello-World.git', `https://github.com/Codertocat/Hello-World/commit/${SHA}`],
    ['gitlab', 'https://gitlab.example.com/group/sub/project.git', `https://gitlab.example.com/group/sub/project/-/commit/${SHA}`],
    ['bitbucket', 'https://bitbucket.org/workspace/widget.git', `https://bitbucket.org/workspace/widget/commits/${SHA}`],
    ['bitbucket-server', 'https://bitbucket.example.com/scm/dev/deployment-automation.git', `https://bitbucket.example.com/projects/DEV/repos/deployment-automation/commits/${SHA}`],
    ['bitbucket-server', 'http://139.59.64.214:7990/bitbucket/scm/~john.doe/widget.git', `http://139.59.64.214:7990/bitbucket/users/john.doe/repos/widget/commits/${SHA}`],
    ['gitea', 'http://127.0.0.1:3000/Test-CI/multi-line-secrets.git', `http://127.0.0.1:3000/Test-CI/multi-line-secrets/commit/${SHA}`],
    // Credentials in a clone URL never reach a page; clone URLs that are no web address give none.
    ['github', 'https://x-access-token:secret@github.com/acme/widget.git', `https://github.com/acme/widget/commit/${SHA}`],
    ['github', 'file:///srv/git/widget.git', null],
    ['gitea', 'git@codeberg.org:acme/widget.git', null],
  ];

  it.each(cases)('%s: %s', (forge, cloneUrl, page) => {
    expect(providerFor(forge)!.credentials.commitUrl(cloneUrl, SHA)).toBe(page);
  });
});

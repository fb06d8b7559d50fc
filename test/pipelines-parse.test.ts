import { describe, expect, it } from 'vitest';
import { formatProblem, matchesFilter, parsePipelineFile } from '../pipelines/index.ts';

const problems = (content: string) => parsePipelineFile('.forgeline/ci.yml', content).problems.map(formatProblem);

describe('pipeline files', () => {
  it('parses the first subset of the format', () => {
    const { pipeline, problems: found } = parsePipelineFile('.forgeline/ci.yml', `on:
  push:
    branches: [main, "release/**"]
stages:
  build:
    steps:
      - run: make
      - name: pack
        run: make dist
  test:
    needs: [build]
    steps: [{ run: make test }]
`);
    expect(found).toEqual([]);
    expect(pipeline).toEqual({
      name: 'ci', file: '.forgeline/ci.yml', on: { push: { branches: ['main', 'release/**'] } },
      stages: [
        { name: 'build', needs: [], steps: [{ name: null, run: 'make' }, { name: 'pack', run: 'make dist' }] },
        { name: 'test', needs: ['build'], steps: [{ name: null, run: 'make test' }] },
      ],
    });
  });

  it('takes `name` over the file stem, and `on.push` without filters', () => {
    const { pipeline } = parsePipelineFile('.forgeline/x.yaml', 'name: release\non: { push: }\nstages: { a: { steps: [{ run: "true" }] } }\n');
    expect(pipeline?.name).toBe('release');
    expect(pipeline?.on.push).toEqual({ branches: null });
  });

  it('locates YAML syntax errors', () => {
    expect(problems('stages:\n  build:\n    steps: [\n')).toEqual([expect.stringMatching(/^\.forgeline\/ci\.yml:4:1: YAML: /)]);
  });

  it('locates schema errors at the key or value at fault, several at once', () => {
    expect(problems(`on:
  push:
    branch: [main]
stages:
  build:
    steps:
      - run: make
        shell: zsh
  test:
    steps: []
`)).toEqual([
      ".forgeline/ci.yml:3:5: /on/push: unknown key 'branch'",
      ".forgeline/ci.yml:8:9: /stages/build/steps/0: unknown key 'shell'",
      '.forgeline/ci.yml:10:12: /stages/test/steps: must NOT have fewer than 1 items',
    ]);
    expect(problems('stages:\n  build:\n    needs: [a]\n')).toEqual([".forgeline/ci.yml:3:5: /stages/build: missing required key 'steps'"]);
    expect(problems('name: Bad Name\nstages: { a: { steps: [{ run: x }] } }\n')).toEqual(['.forgeline/ci.yml:1:7: /name: must match ^[a-z0-9][a-z0-9_-]*$']);
  });

  it('reports needs that name no stage, and cycles', () => {
    expect(problems(`stages:
  a:
    needs: [b]
    steps: [{ run: x }]
  b:
    needs: [a, nope]
    steps: [{ run: x }]
`)).toEqual([
      ".forgeline/ci.yml:6:16: stage 'b' needs 'nope', which is not a stage of this pipeline (stages: a, b)",
      '.forgeline/ci.yml:3:12: needs form a cycle: a → b → a',
    ]);
  });

  it('refuses a file that is not a mapping', () => {
    expect(problems('- a\n- b\n')).toEqual(['.forgeline/ci.yml:1:1: a pipeline file must be a mapping with at least `stages`']);
  });
});

describe('branch filters (GitHub Actions semantics)', () => {
  it.each([
    ['main', ['main'], true],
    ['feature/x', ['main'], false],
    ['release/1.0', ['release/*'], true],
    ['release/1.0/hotfix', ['release/*'], false],
    ['release/1.0/hotfix', ['release/**'], true],
    ['release/beta', ['release/**', '!release/beta'], false],
    ['release/beta', ['!release/beta', 'release/**'], true],
    ['anything', ['**'], true],
  ])('%s against %j → %s', (branch, patterns, expected) => {
    expect(matchesFilter(branch, patterns)).toBe(expected);
  });
});

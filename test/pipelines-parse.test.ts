import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crossFileProblems, formatProblem, matchesFilter, parsePipelineFile, type Pipeline } from '../pipelines/index.ts';

const problems = (content: string) => parsePipelineFile('.forgeline/ci.yml', content).problems.map(formatProblem);

/** The ```yaml blocks of a Markdown file that look like pipelines. */
function yamlBlocks(file: URL): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^( *)```yaml\n([\s\S]*?)^\1```/gm)]
    .map((m) => m[2]!.split('\n').map((line) => line.slice(m[1]!.length)).join('\n'))
    .filter((y) => /^stages:/m.test(y));
}

describe('pipeline files', () => {
  it('accepts every example of docs/pipelines.md and the README', () => {
    const examples = [...yamlBlocks(new URL('../docs/pipelines.md', import.meta.url)), ...yamlBlocks(new URL('../README.md', import.meta.url))];
    expect(examples.length).toBeGreaterThanOrEqual(5);
    for (const example of examples) expect(problems(example), example).toEqual([]);
  });

  it('reads the whole format, as docs/pipelines.md shows it at a glance', () => {
    const spec = yamlBlocks(new URL('../docs/pipelines.md', import.meta.url)).find((y) => y.includes('concurrency: { group: "deploy"'));
    const p = parsePipelineFile('.forgeline/ci.yml', spec!).pipeline as Pipeline;
    expect(p.on.push).toEqual({ branches: ['main', 'release/**'], tags: ['v*'], paths: ['src/**'], pathsIgnore: null });
    expect(p.on.pull_request).toEqual({ types: ['opened', 'synchronize', 'reopened'], branches: ['main'], paths: null, pathsIgnore: null });
    expect(p.on.merge).toEqual({ branches: ['main', 'production'] });
    expect(p.on.manual?.inputs.environment).toEqual({ type: 'choice', description: null, options: ['staging', 'production'], required: true, default: null });
    expect(p.on.schedule).toEqual([{ cron: '0 3 * * *' }]);
    expect(p.on.webhook).toEqual({ sources: ['helpdesk'], types: ['ticket.created'] });
    expect(p.if).toBe('event.pullRequest == null || !event.pullRequest.draft');
    expect(p.env).toEqual({ NODE_ENV: 'test' });
    expect(p.runsOn).toEqual(['linux']);
    expect(p.concurrency).toEqual({ group: 'deploy', cancelInProgress: false });
    const [build, test, test24, deploy] = p.stages;
    expect(build!.steps[1]).toEqual({ name: 'compile', run: 'npm run build', env: { CI_BUILD: '1' }, workingDirectory: 'app', timeoutMs: null, continueOnError: false });
    expect(build!.artifacts).toEqual(['dist/**']);
    expect(build!.cache).toEqual([{ key: 'npm', files: ['package-lock.json'], paths: ['.npm'] }]);
    expect(test).toMatchObject({ name: 'test (22)', needs: ['build'], timeoutMs: 15 * 60_000, retries: 1, steps: [{ run: 'npm test', timeoutMs: 10 * 60_000 }] });
    expect(test24).toMatchObject({ name: 'test (24)', image: 'node:24', resources: { cpus: null, memory: 2 * 1024 ** 3, pids: null } });
    expect(test24!.services).toEqual([{ name: 'db', image: 'postgres:17', env: { POSTGRES_PASSWORD: 'test' }, command: null, ready: { run: 'pg_isready', timeoutMs: 60_000 } }]);
    expect(deploy).toMatchObject({ needs: ['test (22)', 'test (24)'], environment: 'production', approval: true, secrets: ['DEPLOY_TOKEN'], ifReadsStages: false, timeoutMs: 3_600_000 });
  });

  it('takes `name` over the file stem, and `on.push` without filters', () => {
    const { pipeline } = parsePipelineFile('.forgeline/x.yaml', 'name: release\non: { push: }\nstages: { a: { steps: [{ run: "true" }] } }\n');
    expect(pipeline?.name).toBe('release');
    expect(pipeline?.on.push).toEqual({ branches: null, tags: null, paths: null, pathsIgnore: null });
  });

  it('locates YAML syntax errors and duplicate stage names', () => {
    expect(problems('stages:\n  build:\n    steps: [\n')).toEqual([expect.stringMatching(/^\.forgeline\/ci\.yml:4:1: YAML: /)]);
    expect(problems('stages:\n  a:\n    steps: [{ run: x }]\n  a:\n    steps: [{ run: y }]\n')).toEqual([
      '.forgeline/ci.yml:4:3: YAML: a key appears twice (duplicate stage names are not allowed)',
    ]);
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

  it('reports schema and semantic problems together, in the order of the file', () => {
    expect(problems(`on: { push: { branches: ["[unclosed"] } }
bogus: 1
stages:
  build:
    steps: [{ run: make }]
    needs: [nowhere]
  test:
    steps: "not a list"
  lint:
    timeout: 0s
    steps: [{ run: x }]
`)).toEqual([
      `.forgeline/ci.yml:1:26: invalid glob '[unclosed': Missing closing: "]" - use "\\\\]" to match literal characters`,
      ".forgeline/ci.yml:2:1: (top level): unknown key 'bogus'",
      ".forgeline/ci.yml:6:13: stage 'build' needs 'nowhere', which is not a stage of this pipeline (stages: build, test, lint)",
      '.forgeline/ci.yml:8:12: /stages/test/steps: must be array',
      ".forgeline/ci.yml:10:14: invalid duration '0s': write hours, minutes and seconds like 90s, 15m or 1h30m",
    ]);
  });

  it('reports needs that name no stage, cycles, and self-needs', () => {
    expect(problems(`stages:
  a:
    needs: [b]
    steps: [{ run: x }]
  b:
    needs: [a, nope]
    steps: [{ run: x }]
  c:
    needs: [c]
    steps: [{ run: x }]
`)).toEqual([
      '.forgeline/ci.yml:3:12: needs form a cycle: a → b → a',
      ".forgeline/ci.yml:6:16: stage 'b' needs 'nope', which is not a stage of this pipeline (stages: a, b, c)",
      ".forgeline/ci.yml:9:13: stage 'c' cannot need itself",
    ]);
  });

  it('reports durations, globs, cron, inputs, paths and working directories that cannot work', () => {
    expect(problems(`on:
  push:
    branches: ["release/[0-9"]
    paths: [src/**]
    paths-ignore: [docs/**]
  schedule:
    - cron: "61 * * * *"
    - cron: "* * *"
  manual:
    inputs:
      env: { type: choice }
      level: { type: choice, options: [a, b], default: c }
stages:
  a:
    timeout: 0s
    steps:
      - run: x
        working-directory: ../outside
`)).toEqual([
      ".forgeline/ci.yml:3:16: invalid glob 'release/[0-9': Missing closing: \"]\" - use \"\\\\]\" to match literal characters",
      '.forgeline/ci.yml:5:5: on.push: use either paths or paths-ignore, not both (prefix excluded paths with ! in paths)',
      ".forgeline/ci.yml:7:13: invalid cron '61 * * * *': Constraint error, got value 61 expected range 0-59",
      ".forgeline/ci.yml:8:13: invalid cron '* * *': has 3 fields, needs 5 (minute hour day-of-month month day-of-week)",
      ".forgeline/ci.yml:11:12: input 'env': a choice needs options",
      ".forgeline/ci.yml:12:47: input 'level': default \"c\" is not a valid choice (options: a, b)",
      ".forgeline/ci.yml:15:14: invalid duration '0s': write hours, minutes and seconds like 90s, 15m or 1h30m",
      ".forgeline/ci.yml:18:28: working-directory '../outside' must stay inside the checkout",
    ]);
  });

  it('compiles CEL conditions, locating syntax errors inside the expression', () => {
    expect(problems(`if: event.kind == = "push"
stages:
  a:
    if: stages.b.result == "success"
    steps: [{ run: x }]
  b:
    if: secrets.TOKEN != ""
    steps: [{ run: x }]
  c:
    needs: [a]
    if: stages.nope.result == "failure"
    steps: [{ run: x }]
`)).toEqual([
      '.forgeline/ci.yml:1:16: if: found = but expecting end of input',
      ".forgeline/ci.yml:4:9: if: reads stages.b.result, so 'a' must list 'b' in needs",
      ".forgeline/ci.yml:7:9: if: unknown variable 'secrets'; conditions read event, payload, stages, matrix",
      '.forgeline/ci.yml:11:9: if: stages.nope is not a stage of this pipeline',
    ]);
  });

  it('marks stages whose condition reads other stages', () => {
    const { pipeline } = parsePipelineFile('.forgeline/ci.yml', `stages:
  test: { steps: [{ run: x }] }
  notify:
    needs: [test]
    if: stages.test.result == "failure" && event.kind == "push"
    steps: [{ run: x }]
  deploy:
    needs: [test]
    if: event.branch == "main"
    steps: [{ run: x }]
`);
    expect(pipeline!.stages.map((s) => [s.name, s.ifReadsStages])).toEqual([['test', false], ['notify', true], ['deploy', false]]);
  });

  it('expands a matrix into one stage per combination, minus exclude, plus include, with its values put into image, services, runs-on and env', () => {
    const p = parsePipelineFile('.forgeline/ci.yml', `image: "alpine:\${{ matrix.os }}"
stages:
  m:
    matrix:
      n: [1, 2]
      os: [x, y]
      exclude: [{ n: 1, os: y }]
      include: [{ n: 3, os: z }]
    max-parallel: 2
    runs-on: ["pool-\${{ matrix.os }}"]
    env: { N: "n=\${{ matrix.n }}", PLAIN: "\${{ matrix.os }}" }
    services:
      db: { image: "db:\${{ matrix.n }}" }
    steps: [{ run: "true" }]
  after:
    needs: [m]
    image: alpine
    if: stages.m.result == "failure"
    steps: [{ run: "true" }]
`).pipeline!;
    expect(p.stages.map((s) => s.name)).toEqual(['m (1, x)', 'm (2, x)', 'm (2, y)', 'm (3, z)', 'after']);
    const last = p.stages[3]!;
    expect([last.image, last.services[0]!.image, last.runsOn, last.env]).toEqual(['alpine:z', 'db:3', ['pool-z'], { N: 'n=3', PLAIN: 'z' }]);
    expect(last.matrix).toEqual({ stage: 'm', values: { n: '3', os: 'z' }, failFast: true, maxParallel: 2 });
    expect(p.stages[4]!.needs).toEqual(['m (1, x)', 'm (2, x)', 'm (2, y)', 'm (3, z)']);
    expect(p.stages[4]!.matrix).toBeNull();
  });

  it('locates what is wrong with a matrix, its substitutions, services and caches at file:line:col', () => {
    expect(problems(`stages:
  m:
    matrix:
      a: [1, 2]
      exclude: [{ b: 1 }]
      include: [{ a: 3, c: 1 }]
    steps: [{ run: "true" }]
`)).toEqual([
      ".forgeline/ci.yml:5:19: matrix exclude: 'b' is not an axis of this matrix (axes: a)",
      ".forgeline/ci.yml:6:25: matrix include: 'c' is not an axis of this matrix (axes: a)",
    ]);
    const axis = Array.from({ length: 17 }, (_, i) => i);
    expect(problems(`stages:
  big:
    matrix: { a: ${JSON.stringify(axis)}, b: ${JSON.stringify(axis)} }
    steps: [{ run: "true" }]
`))
      .toEqual(['.forgeline/ci.yml:3:13: matrix: 289 instances; a stage may have at most 256']);
    expect(problems(`stages:
  s:
    image: "node:\${{ matrix.node }}"
    fail-fast: false
    services:
      db: { image: postgres }
    steps: [{ run: "true" }]
  t:
    matrix: { n: [1] }
    image: "x:\${{ matrix.m }}"
    env: { A: "\${{ secrets.TOKEN }}" }
    cache: [{ key: npm, paths: [../outside] }]
    steps: [{ run: "true" }]
  u:
    services:
      db: { image: postgres }
    steps: [{ run: "true" }]
`)).toEqual([
      '.forgeline/ci.yml:3:12: ${{ matrix.node }}: the stage has no matrix',
      '.forgeline/ci.yml:4:5: fail-fast applies only to a stage with a matrix',
      ".forgeline/ci.yml:10:12: ${{ matrix.m }}: 'm' is not an axis of this matrix (axes: n)",
      '.forgeline/ci.yml:11:15: ${{ secrets.TOKEN }}: only ${{ matrix.<axis> }} may be written here',
      ".forgeline/ci.yml:12:33: '../outside' must be a path inside the workspace",
      ".forgeline/ci.yml:15:5: services need the stage to name an image: steps reach them through the stage container's network",
    ]);
  });

  it('refuses a file that is not a mapping', () => {
    expect(problems('- a\n- b\n')).toEqual(['.forgeline/ci.yml:1:1: a pipeline file must be a mapping with at least `stages`']);
  });

  it('requires pipeline names unique across files, and valid when taken from the file name', () => {
    const a = parsePipelineFile('.forgeline/a.yml', 'name: ci\nstages: { s: { steps: [{ run: x }] } }\n').pipeline!;
    const b = parsePipelineFile('.forgeline/b.yml', 'name: ci\nstages: { s: { steps: [{ run: x }] } }\n').pipeline!;
    const c = parsePipelineFile('.forgeline/Build Me.yml', 'stages: { s: { steps: [{ run: x }] } }\n').pipeline!;
    expect(crossFileProblems([a, b, c]).map(formatProblem)).toEqual([
      ".forgeline/b.yml:1:1: pipeline name 'ci' is also used by .forgeline/a.yml: names must be unique",
      ".forgeline/Build Me.yml:1:1: pipeline name 'Build Me' (from the file name) must match [a-z0-9][a-z0-9_-]*: set name:",
    ]);
  });
});

describe('glob filters (GitHub Actions semantics)', () => {
  it.each([
    ['main', ['main'], true],
    ['feature/x', ['main'], false],
    ['release/1.0', ['release/*'], true],
    ['release/1.0/hotfix', ['release/*'], false],
    ['release/1.0/hotfix', ['release/**'], true],
    ['release/beta', ['release/**', '!release/beta'], false],
    ['release/beta', ['!release/beta', 'release/**'], true],
    ['anything', ['**'], true],
    ['src/app/.env', ['src/**'], true],
    ['docs/a.md', ['**/*.md'], true],
    ['a.md', ['**/*.md'], true],
  ])('%s against %j → %s', (value, patterns, expected) => {
    expect(matchesFilter(value, patterns)).toBe(expected);
  });

  const segment = fc.stringMatching(/^[a-z0-9._-]{1,8}$/).filter((s) => s !== '.' && s !== '..');
  const pathArb = fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('/'));

  it('matches a path by itself, and by ** in any folder', () => {
    fc.assert(fc.property(pathArb, (p) => matchesFilter(p, [p]) && matchesFilter(p, ['**']) && matchesFilter(p, [`**/${p.split('/').at(-1)}`])));
  });

  it('lets the last matching pattern decide', () => {
    fc.assert(fc.property(pathArb, fc.array(fc.constantFrom('**', '!**', 'src/**', '!src/**'), { minLength: 1, maxLength: 6 }), (p, patterns) => {
      const last = [...patterns].reverse().find((pat) => matchesFilter(p, [pat.replace(/^!/, '')]));
      return matchesFilter(p, patterns) === (last !== undefined && !last.startsWith('!'));
    }));
  });

  it('never lets * cross a folder', () => {
    fc.assert(fc.property(segment, segment, (a, b) => !matchesFilter(`${a}/${b}`, ['*']) && matchesFilter(`${a}/${b}`, [`${a}/*`])));
  });
});

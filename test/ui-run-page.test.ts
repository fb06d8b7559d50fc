// The run page, the runs list, the pipeline page and badges in a real
// browser, against a real run: build → test (two steps, one printing 2,000
// lines), build → lint (its second step fails), test → deploy (production,
// approval required), checked while deploy waits, then after a rerun.
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken, setEnvironment } from '../scheduler/index.ts';
import { chromiumPath, launchChromium, noChromiumReason } from './helpers/chromium.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { waitFor } from './helpers/forgeline.ts';

const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;

const PIPELINE = `on: { push: {} }
stages:
  build:
    steps: [{ name: compile, run: "echo built" }]
  test:
    needs: [build]
    steps:
      - name: unit
        run: "seq 1 2000"
      - name: report
        run: "echo all good"
  lint:
    needs: [build]
    steps:
      - name: format
        run: "echo formatted"
      - name: style
        run: "echo bad style in attempt $FORGELINE_ATTEMPT; exit 3"
  deploy:
    needs: [test]
    environment: production
    steps: [{ run: "echo shipped" }]
`;

describe.skipIf(!chromiumPath)(`the run page in a real browser${noChromiumReason}`, () => {
  let b: Bench;
  let browser: Browser;
  let page: Page;
  let admin: string;
  let id: number;
  let sha: string;

  beforeAll(async () => {
    b = await startBench('acme/pages', { workers: 2, env: { FORGELINE_PUBLIC_READ: 'false', FORGELINE_API_TOKEN: 'bootstrap-reader' } });
    admin = (await addToken(b.forgeline.runtime.db.pool, 'release-manager', 'admin', 'test')).token;
    await setEnvironment(b.forgeline.runtime.db.pool, { repo: b.name, name: 'production', branches: ['main'], approval: true, approvers: ['release-manager'] }, 'test');
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${b.forgeline.url}/login`);
    await page.fill('input[name=token]', admin);
    await page.click('button.primary');
    await page.waitForURL(`${b.forgeline.url}/`);
    const pushed = await b.push({ '.forgeline/ci.yml': PIPELINE }, { message: 'Add the release pipeline\n\nWith a body the list does not show.' });
    [id, sha] = [pushed.runs[0]!, pushed.sha];
    await b.stage(id, 'deploy', 'waiting', 30_000);
    await b.stage(id, 'lint', 'failure');
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await b?.stop();
  });

  it('draws the stages as a graph from needs, with the API\'s states, and says what the waiting one needs', async () => {
    const run = await b.run(id);
    await page.goto(`${b.forgeline.url}/runs/${id}`);
    const nodes = await page.$$eval('svg.graph [data-stage][data-status]', (els) => els.map((e) => [e.getAttribute('data-stage'), e.getAttribute('data-status')]));
    expect(Object.fromEntries(nodes)).toEqual(Object.fromEntries(run.stages.map((s: any) => [s.name, s.status])));
    expect(nodes).toHaveLength(4);
    const edges = await page.$$eval('svg.graph [data-edge]', (els) => els.map((e) => e.getAttribute('data-edge')).sort());
    expect(edges).toEqual(['build->lint', 'build->test', 'test->deploy']);
    expect(await page.getAttribute('svg.graph [data-stage=deploy]', 'data-status')).toBe('waiting');
    // The run waits for an approval: nothing outside the graph and the logs calls it running.
    expect(run.status).toBe('waiting');
    expect(await page.textContent('[data-run-status]')).toContain('waiting');
    const outside = await page.evaluate(() => [...document.querySelectorAll('main > *:not(.graph-box):not(.stage-log)')].map((e) => e.textContent).join(' '));
    expect(outside).not.toMatch(/\brunning\b/);
    expect(outside).toContain('waiting for approval to deploy to production (approvers: release-manager)');
    expect(await page.title()).toBe(`Run #${id} · ci · waiting · Forgeline`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'run-page.png'), fullPage: true });
  });

  it('shows how long each finished stage took and when each started, the clock time in the markup', async () => {
    for (const name of ['build', 'test', 'lint']) {
      const card = page.locator(`.stage-card[data-card="${name}"]`);
      expect(await card.locator('.duration').textContent()).toMatch(/^(\d+\.\d s|\d+m \d+s)$/);
      const started = card.locator('time.ago');
      expect(await started.textContent()).toMatch(/just now|\d+ s ago|\d+ min ago/);
      expect(Date.parse((await started.getAttribute('datetime'))!)).toBeGreaterThan(Date.now() - 10 * 60_000);
      expect(await started.getAttribute('title')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    }
  });

  it('opens the failing step\'s section, folds the passing ones with their name and duration, and links every line', async () => {
    const lint = page.locator('.stage-log[data-stage=lint] .log');
    await lint.locator('details[data-step="1"]').waitFor();
    expect(await lint.locator('details[data-step="1"]').evaluate((d: HTMLDetailsElement) => d.open)).toBe(true);
    expect(await lint.locator('details[data-step="0"]').evaluate((d: HTMLDetailsElement) => d.open)).toBe(false);
    expect(await lint.locator('details[data-step="1"] summary').textContent()).toMatch(/style\s*exit 3 · \d+\.\d s/);
    const unit = page.locator('.stage-log[data-stage=test] details[data-step="0"]');
    await page.locator('.stage-log[data-stage=test] .log[data-rendered]').waitFor();
    expect(await unit.locator('summary').textContent()).toMatch(/unit\s*exit 0 · \d+\.\d s/);
    expect(await unit.evaluate((d: HTMLDetailsElement) => d.open)).toBe(false);
    await unit.locator('summary').click();
    expect(await unit.evaluate((d: HTMLDetailsElement) => d.open)).toBe(true);
    await unit.locator('summary').click();
    expect(await unit.evaluate((d: HTMLDetailsElement) => d.open)).toBe(false);

    // A line number is a link: clicking it sets the hash; opening that address shows the line.
    await unit.locator('summary').click();
    const position = await page.getAttribute('.stage-log[data-stage=test]', 'data-position');
    const line = `s${position}-L1500`;
    await page.click(`#${line} > a`);
    expect(await page.evaluate(() => location.hash)).toBe(`#${line}`);
    await page.goto('about:blank');
    await page.goto(`${b.forgeline.url}/runs/${id}#${line}`);
    await page.waitForSelector(`#${line}.hl`);
    expect(await page.textContent(`#${line} > span`)).toBe('1499');
    expect(await page.locator(`#${line}`).evaluate((el) => {
      const box = el.getBoundingClientRect();
      const log = el.closest('.log')!.getBoundingClientRect();
      return box.top >= log.top && box.bottom <= log.bottom && box.top >= 0 && box.bottom <= window.innerHeight;
    })).toBe(true);
    // Search finds a line inside a folded step and opens it.
    await page.fill('.stage-log[data-stage=test] .log-search', '1999');
    await page.press('.stage-log[data-stage=test] .log-search', 'Enter');
    expect(await page.textContent('.stage-log[data-stage=test] .search-result')).toBe('1 of 1');
  });

  it('approves the deployment from the run page, then keeps every attempt of a rerun stage', async () => {
    await page.goto(`${b.forgeline.url}/runs/${id}`);
    const approve = page.locator(`button[data-post="/api/runs/${id}/stages/deploy/approve"]`);
    expect(await approve.isEnabled()).toBe(true);
    const reloaded = page.waitForEvent('load');
    await approve.click();
    await page.waitForSelector('#action-result:has-text("done")');
    await reloaded;
    expect((await b.finished(id)).status).toBe('failure');
    expect(await b.log(id, 'deploy')).toContain('shipped');

    // A finished run offers no cancel.
    await page.goto(`${b.forgeline.url}/runs/${id}`);
    expect(await page.locator('button', { hasText: 'Cancel run' }).count()).toBe(0);
    expect((await b.api(`/runs/${id}/stages/lint/rerun`, { method: 'POST', token: admin })).status).toBe(200);
    await b.finished(id);
    expect((await b.api(`/runs/${id}/stages/lint/log?attempt=1`)).body).toContain('bad style in attempt 1');
    expect((await b.api(`/runs/${id}/stages/lint/log?attempt=2`)).body).toContain('bad style in attempt 2');
    expect((await b.api(`/runs/${id}/stages/lint/log?attempt=3`)).status).toBe(404);
    const lint = (await b.run(id)).stages.find((s: any) => s.name === 'lint');
    expect(lint.attempts.map((a: any) => [a.attempt, a.status])).toEqual([[1, 'failure'], [2, 'failure']]);
    expect(lint.steps.map((s: any) => [s.name, s.exitCode])).toEqual([['format', 0], ['style', 3]]);

    await page.goto(`${b.forgeline.url}/runs/${id}`);
    const section = page.locator('.stage-log[data-stage=lint]');
    await section.locator('.log[data-rendered]').waitFor();
    expect(await section.locator('.log').textContent()).toContain('bad style in attempt 2');
    await section.locator('[data-attempt="1"]').click();
    await waitFor(async () => ((await section.locator('.log').textContent())?.includes('bad style in attempt 1') ? true : undefined), 'attempt 1 shown');
    expect(await section.getAttribute('data-attempt-shown')).toBe('1');
    expect(await section.locator('[data-attempt="1"]').getAttribute('aria-pressed')).toBe('true');
  });

  it('asks before canceling a waiting run, and cancels only when told yes', async () => {
    const { runs: [waiting] } = await b.push({ '.forgeline/ci.yml': PIPELINE, 'again.txt': '1' }, { message: 'Second push' });
    await b.stage(waiting!, 'deploy', 'waiting', 30_000);
    await page.goto(`${b.forgeline.url}/runs/${waiting}`);
    const dialogs: string[] = [];
    let answer = false;
    const onDialog = (d: import('playwright-core').Dialog) => { dialogs.push(d.message()); void (answer ? d.accept() : d.dismiss()); };
    page.on('dialog', onDialog);
    try {
      await page.click('button:has-text("Cancel run")');
      expect(dialogs).toEqual([`Cancel run #${waiting}? Its running steps are killed.`]);
      await new Promise((r) => setTimeout(r, 500));
      expect((await b.run(waiting!)).status).toBe('waiting');
      answer = true;
      const reloaded = page.waitForEvent('load');
      await page.click('button:has-text("Cancel run")');
      await reloaded;
      // Its lint had failed already: the run ends failed, its waiting deployment canceled.
      expect((await b.finished(waiting!)).stages.find((s: any) => s.name === 'deploy')).toMatchObject({ status: 'canceled', reason: 'canceled by release-manager' });
    } finally {
      page.off('dialog', onDialog);
    }
  });

  it('lists runs with their commit, branch, event and time, and shows a new push without a reload', async () => {
    await page.goto(`${b.forgeline.url}/`);
    const row = page.locator(`tr[data-run="${id}"]`);
    const text = (await row.textContent())!.replace(/\s+/g, ' ');
    expect(text).toContain(sha.slice(0, 7));
    expect(text).not.toContain(sha.slice(0, 8));
    expect(text).toContain('Add the release pipeline');
    expect(text).not.toContain('With a body');
    expect(text).toContain('main');
    expect(text).toContain('push');
    expect(text).toMatch(/\d+\.\d s|\d+m \d+s/);
    expect(await row.locator('time.ago').getAttribute('datetime')).toBeTruthy();
    const marker = await page.evaluate(() => { (window as any).sameDocument = true; return true; });
    expect(marker).toBe(true);
    const { runs: [fresh] } = await b.push({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  quick: { steps: [{ run: "true" }] }\n', 'third.txt': '1' }, { message: 'Third push' });
    await page.waitForSelector(`tr[data-run="${fresh}"]`, { timeout: 10_000 });
    expect(await page.evaluate(() => (window as any).sameDocument)).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'runs-list.png'), fullPage: true });
  });

  it('shows the pipeline\'s last runs as a chart with its success rate and newest run per branch', async () => {
    const repo = (await b.api('/repos')).body.items.find((r: any) => r.name === b.name);
    await page.goto(`${b.forgeline.url}/repos/${repo.id}/pipelines/ci`);
    const all = (await b.api(`/runs?repo=${encodeURIComponent(b.name)}`)).body.items.filter((r: any) => r.pipeline === 'ci');
    expect(await page.locator('svg.chart rect.bar').count()).toBe(all.length);
    const final = all.filter((r: any) => ['success', 'failure', 'canceled'].includes(r.status));
    const rate = Math.round((100 * final.filter((r: any) => r.status === 'success').length) / final.length);
    expect(await page.textContent('.rate')).toBe(`${rate}% successful`);
    expect(await page.locator('table tbody tr').first().textContent()).toContain('main');
    await page.screenshot({ path: path.join(ARTIFACTS, 'pipeline-page.png'), fullPage: true });
  });

  it('starts a manual run from the pipeline page\'s form, its inputs typed as the file declares them', async () => {
    const release = `on:
  push: { branches: [main] }
  manual:
    inputs:
      target: { type: choice, options: [staging, production], required: true }
      dry_run: { type: boolean, default: true }
stages:
  release: { steps: [{ run: "echo target=$FORGELINE_INPUT_TARGET dry=$FORGELINE_INPUT_DRY_RUN" }] }
`;
    const { runs } = await b.push({ '.forgeline/release.yml': release });
    for (const r of runs) await b.finished(r);
    const repo = (await b.api('/repos')).body.items.find((r: any) => r.name === b.name);
    await page.goto(`${b.forgeline.url}/repos/${repo.id}/pipelines/release`);
    await page.selectOption('form[data-trigger] select[name=target]', 'production');
    expect(await page.isChecked('form[data-trigger] input[name=dry_run]')).toBe(true);
    await page.uncheck('form[data-trigger] input[name=dry_run]');
    await Promise.all([page.waitForURL(/\/runs\/\d+$/), page.click('form[data-trigger] button')]);
    const started = Number(/\/runs\/(\d+)$/.exec(page.url())![1]);
    expect((await b.run(started)).event.kind).toBe('manual');
    await b.finished(started);
    expect(await b.log(started, 'release')).toContain('target=production dry=false');
    await page.goto('about:blank');
  });

  it('answers badges for the newest run of a branch, 404 for an unknown repository, and links a favicon that loads', async () => {
    // From a page that stays put: a run's page reloads itself when its stages change.
    await page.goto(`${b.forgeline.url}/repos`);
    const badge = (query = '') => page.evaluate(async (href) => {
      const res = await fetch(href);
      return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
    }, `/badge/${b.name}/ci.svg${query}`);
    const { runs: [broken] } = await b.push({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  broken: { steps: [{ run: "exit 1" }] }\n' });
    expect((await b.finished(broken!)).status).toBe('failure');
    const failing = await badge();
    expect(failing).toMatchObject({ status: 200, type: 'image/svg+xml' });
    expect(failing.body).toContain('failing');
    expect((await badge('?branch=main')).body).toContain('failing');
    expect((await badge('?branch=nowhere')).body).toContain('unknown');
    const { runs: [waiting] } = await b.push({ '.forgeline/ci.yml': PIPELINE, 'fourth.txt': '1' });
    await b.stage(waiting!, 'deploy', 'waiting', 30_000);
    expect((await badge()).body).toMatch(/>(running|pending)</);
    expect((await page.evaluate(async () => (await fetch('/badge/nobody/nothing/ci.svg')).status))).toBe(404);
    // Without a token only where the repository allows it.
    const anonymous = () => fetch(`${b.forgeline.url}/badge/${b.name}/ci.svg`).then((r) => r.status);
    expect(await anonymous()).toBe(401);
    expect((await b.api(`/repos/${encodeURIComponent(b.name)}`, { method: 'PATCH', token: admin, body: { publicBadges: true } })).body.publicBadges).toBe(true);
    expect(await anonymous()).toBe(200);
    for (const where of [`/runs/${id}`, '/']) {
      await page.goto(`${b.forgeline.url}${where}`);
      const href = await page.getAttribute('link[rel=icon]', 'href');
      const icon = await page.evaluate(async (h) => { const r = await fetch(h!); return [r.status, r.headers.get('content-type')]; }, href);
      expect(icon).toEqual([200, 'image/svg+xml']);
    }
    expect(await page.getAttribute('link[rel=icon]', 'href')).toBe('/favicon.svg');
  });
});

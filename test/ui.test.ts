import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken, setEnvironment } from '../scheduler/index.ts';
import { chromiumPath, launchChromium, noChromiumReason } from './helpers/chromium.ts';
import { startBench, type Bench } from './helpers/engine.ts';

const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;

describe.skipIf(!chromiumPath)(`the web UI in a real browser${noChromiumReason}`, () => {
  let b: Bench;
  let browser: Browser;
  let page: Page;
  let scratch: string;
  let admin: string;

  beforeAll(async () => {
    b = await startBench('acme/ui', { workers: 2, env: { FORGELINE_PUBLIC_READ: 'false', FORGELINE_API_TOKEN: 'bootstrap-reader' } });
    scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-ui-'));
    admin = (await addToken(b.forgeline.runtime.db.pool, 'release-manager', 'admin', 'test')).token;
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(`${b.forgeline.url}/`);
    expect(page.url()).toContain('/login');
    await page.fill('input[name=token]', admin);
    await page.click('button.primary');
    await page.waitForURL(`${b.forgeline.url}/`);
  });
  afterAll(async () => {
    await browser?.close();
    await b?.stop();
  });

  it('follows a stage\'s log live while it prints, colours and all', async () => {
    const gate = path.join(scratch, 'go');
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  chatty:\n    steps: [{ run: "printf '\\\\033[32mline one in green\\\\033[0m\\\\n'; while [ ! -e ${gate} ]; do sleep 0.05; done; echo line $((1+1))" }]\n`,
    });
    await b.stage(id!, 'chatty', 'running');
    await page.goto(`${b.forgeline.url}/runs/${id}`);
    await page.waitForSelector('.stage-log[data-stage=chatty] .log .ansi-32');
    expect(await page.textContent('.stage-log[data-stage=chatty] .log')).toContain('line one in green');
    expect(await page.textContent('.stage-log[data-stage=chatty] .log')).not.toContain('line 2');
    await writeFile(gate, '');
    await page.waitForFunction(() => document.querySelector('.stage-log[data-stage=chatty] .log')?.textContent?.includes('line 2'), undefined, { timeout: 15_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-live-log.png'), fullPage: true });
    await b.finished(id!);
    // The page reloads itself half a second after the stage ends: leave it first, or that
    // reload would cut into the next test's navigation.
    await page.goto('about:blank');
  });

  it('approves a waiting deployment from the environment page and sees it run', async () => {
    await setEnvironment(b.forgeline.runtime.db.pool, { repo: b.name, name: 'production', branches: ['main'], approval: true, approvers: null }, 'test');
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  deploy:\n    environment: production\n    steps: [{ run: "echo shipped" }]\n',
    });
    await b.stage(id!, 'deploy', 'waiting');
    await page.goto(`${b.forgeline.url}/repos/${b.hook.id}/environments`);
    // The page reloads itself after an action: wait for that, or it would cut into the next goto.
    const reloaded = page.waitForEvent('load');
    await page.click(`button[data-post="/api/runs/${id}/stages/deploy/approve"]`);
    await page.waitForSelector('#action-result:has-text("done")');
    await reloaded;
    expect((await b.finished(id!)).status).toBe('success');
    await page.goto(`${b.forgeline.url}/repos/${b.hook.id}/environments`);
    expect(await page.textContent('main')).toContain('release-manager');
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-environment.png'), fullPage: true });
  });

  it('lists a repository\'s caches with their size, and deletes one', async () => {
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  deps:\n    cache: [{ key: vendor, paths: [vendor] }]\n    steps: [{ run: "mkdir -p vendor && head -c 3000 /dev/urandom > vendor/blob" }]\n',
    });
    expect((await b.finished(id!)).status).toBe('success');
    await page.goto(`${b.forgeline.url}/repos/${b.hook.id}/caches`);
    const row = page.locator('tbody tr', { hasText: 'vendor-' });
    expect(await row.textContent()).toMatch(/main\s*1\s*[\d.]+ KiB/);
    expect(await page.textContent('main')).toContain('of 10 GiB');
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-caches.png'), fullPage: true });
    const reloaded = page.waitForEvent('load');
    await row.locator('button[data-method=DELETE]').click();
    await page.waitForSelector('#action-result:has-text("done")');
    await reloaded;
    expect(await page.textContent('main')).toContain('No caches yet');
  });

  it('replays a delivery from its page, which explains what it ran', async () => {
    const { delivery } = await b.push({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  s: { steps: [{ run: "true" }] }\n', 'r.txt': '1' });
    await page.goto(`${b.forgeline.url}/deliveries/${delivery.id}`);
    expect(await page.textContent('ul.explain')).toContain('ci');
    await page.click('button[data-post$="/replay"]');
    await page.waitForSelector('#action-result:has-text("done")');
    const replayed = JSON.parse((await page.textContent('#action-result'))!.replace(/^done: /, ''));
    expect(replayed.runs).toHaveLength(1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-delivery.png'), fullPage: true });
  });

  it('renders a 100,000-line log incrementally, the tab staying responsive, with the raw log to download', async () => {
    const { runs: [id] } = await b.push({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  big:\n    steps: [{ run: "seq 1 100000" }]\n', 'big.txt': '1' });
    await b.finished(id!);
    await page.goto(`${b.forgeline.url}/runs/${id}`);
    // While the lines are appended frame by frame, the page still answers.
    expect(await page.evaluate(() => document.title)).toContain(`Run #${id}`);
    // The step's marker line, then 100,000 lines, each numbered.
    await page.waitForFunction(() => document.querySelector('.stage-log[data-stage=big] .log')?.getAttribute('data-rendered') === '100001', undefined, { timeout: 60_000 });
    expect(await page.textContent('#s0-L100001 > span')).toBe('100000');
    const raw = await page.evaluate(async (href) => (await fetch(href)).text(), `/api/runs/${id}/stages/big/log`);
    expect(raw.trim().split('\n')).toHaveLength(100_001);
    await page.screenshot({ path: path.join(ARTIFACTS, 'ui-big-log.png') });
  }, 90_000);

  it('refuses a cookie-authenticated write without the page\'s CSRF token', async () => {
    const status = await page.evaluate(async () => (await fetch('/api/runs/1/rerun', { method: 'POST' })).status);
    expect(status).toBe(403);
  });
});

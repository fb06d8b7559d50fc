import { existsSync } from 'node:fs';

/**
 * Debian's Chromium, driven through playwright-core (no browser download).
 * Outside CI a machine without it skips the UI tests, saying why; under
 * CI=true they always run, so a missing browser fails instead of hiding.
 */
const CANDIDATES = [process.env.FORGELINE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => Boolean(p));

export const chromiumPath: string | undefined = CANDIDATES.find((p) => existsSync(p)) ?? (process.env.CI === 'true' ? CANDIDATES.at(-1) : undefined);

export const noChromiumReason = chromiumPath ? '' : ` (skipped: no Chromium at ${CANDIDATES.join(' or ')}; apt-get install chromium, or set FORGELINE_CHROMIUM)`;

/** Headless Chromium as the UI tests drive it: no sandbox (root in CI), nothing fetched from the network on its own. */
export async function launchChromium(): Promise<import('playwright-core').Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

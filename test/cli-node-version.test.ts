// The `forgeline` bin under a Node.js older than it needs: from its package it
// hands over to the Node it depends on; without one it says what it needs.
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../bin/forgeline.js', import.meta.url));

/** The machine's own `node` when it is older than 22.18 (Debian's is 18 or 20), else none to try. */
function oldNode(): { path: string; version: string } | null {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    try {
      const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim().slice(1);
      const [major, minor] = version.split('.').map(Number);
      if (major! < 22 || (major === 22 && minor! < 18)) return { path: candidate, version };
    } catch { /* not there */ }
  }
  return null;
}
const old = oldNode();

describe.skipIf(!old)(`the bin on an old Node.js${old ? '' : ' (skipped: no Node.js older than 22.18 on this machine)'}`, () => {
  let scratch: string | undefined;
  afterAll(() => (scratch ? rm(scratch, { recursive: true, force: true }) : undefined));

  it('runs under the Node.js it depends on', async () => {
    const result = await execa(old!.path, [bin, '--version'], { reject: false });
    expect([result.exitCode, result.stdout, result.stderr]).toEqual([0, expect.stringMatching(/^\d+\.\d+\.\d+$/), '']);
  });

  it('says which version it needs, and nothing else, where it has no Node.js of its own', async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-bin-'));
    await mkdir(path.join(scratch, 'bin'));
    await copyFile(bin, path.join(scratch, 'bin', 'forgeline.js'));
    const result = await execa(old!.path, [path.join(scratch, 'bin', 'forgeline.js'), 'validate'], { reject: false });
    expect([result.exitCode, result.stdout, result.stderr]).toEqual([1, '', `forgeline needs Node.js 22.18 or newer; this is Node.js ${old!.version}.`]);
  });
});

#!/usr/bin/env node
// From a checkout Node runs the TypeScript sources directly (type stripping);
// the packed package ships only the JavaScript built into dist/. Either way the
// Node version is checked first: an older one would fail with an error that
// names neither Forgeline nor what to do. The package depends on the `node`
// package (Node 24), so an older `node` on the PATH hands over to that one.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const NEEDED = '22.18';
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  let pinned;
  try {
    pinned = path.join(path.dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node');
  } catch { /* not installed with it */ }
  if (!pinned || !existsSync(pinned)) {
    process.stderr.write(`forgeline needs Node.js ${NEEDED} or newer; this is Node.js ${process.versions.node}.\n`);
    process.exit(1);
  }
  const child = spawn(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches the child from the terminal itself; a SIGTERM sent to this process is passed on.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  process.on('SIGHUP', () => child.kill('SIGHUP'));
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)));
} else {
  // A checkout has the sources (and maybe a dist/ left by `npm pack`, older than they are); the package has dist/ only.
  const sources = new URL('../cli/main.ts', import.meta.url);
  await import(existsSync(sources) ? sources.href : new URL('../dist/cli/main.js', import.meta.url).href);
}

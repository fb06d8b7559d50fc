#!/usr/bin/env node
// From a checkout Node runs the TypeScript sources directly (type stripping);
// the packed package ships the JavaScript built into dist/.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 22 || (major === 22 && minor < 18)) {
    process.stderr.write(`forgeline: Node.js ${process.versions.node} cannot run it from a checkout; it needs 22.18 or newer. ` +
      'Run it as `npx forgeline …` or through npm scripts, which use the Node pinned in devDependencies.\n');
    process.exit(1);
  }
  await import(new URL('../cli/main.ts', import.meta.url).href);
}

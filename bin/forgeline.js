#!/usr/bin/env node
// From a checkout Node runs the TypeScript sources directly (type stripping);
// the packed package ships the JavaScript built into dist/.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
await import(existsSync(built) ? built.href : new URL('../cli/main.ts', import.meta.url).href);

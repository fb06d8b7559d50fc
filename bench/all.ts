// npm run bench — every benchmark, one after another, and bench/results.md
// with each figure beside its baseline and the ratio.
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const BENCHES = [
  { name: 'ingest', file: 'ingest.ts', what: 'hook throughput against a verify+parse endpoint' },
  { name: 'match', file: 'match.ts', what: 'parse + validate + match against git reading the same files' },
  { name: 'latency', file: 'latency.ts', what: 'webhook → first step against the floor of its parts' },
  { name: 'dispatch', file: 'dispatch.ts', what: 'stage dispatch overhead against a bare process spawn' },
];

const sections: string[] = [`# Benchmark results\n\nWritten by \`npm run bench\` on ${new Date().toISOString()} (${process.platform}, Node ${process.versions.node}). Each figure stands beside a baseline measured in the same run.\n`];
for (const bench of BENCHES) {
  process.stdout.write(`── ${bench.name}: ${bench.what}\n`);
  const result = await execa(process.execPath, [here(bench.file)], { reject: false, env: process.env, all: true });
  process.stdout.write(`${result.all}\n`);
  sections.push(`## ${bench.name}\n\n${bench.what}. Command: \`node bench/${bench.file}\`${result.exitCode ? ` (exit ${result.exitCode})` : ''}\n\n\`\`\`\n${String(result.stdout).trim()}\n\`\`\`\n`);
}
await writeFile(here('results.md'), sections.join('\n'));
process.stdout.write('wrote bench/results.md\n');

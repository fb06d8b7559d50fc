import { InvalidArgumentError, type Command } from 'commander';
import { parseDuration } from '../../pipelines/duration.ts';
import { cutoffOf, prune } from '../../scheduler/index.ts';
import { connectDatabase, migrate, openBlobStore } from '../../store/index.ts';
import { readConfig } from '../config.ts';

/** `30d`, `12h`, `1h30m`: an age, in milliseconds. */
function age(value: string): number {
  const days = /^(\d+)d$/.exec(value);
  const ms = days ? Number(days[1]) * 86_400_000 : parseDuration(value);
  if (!ms) throw new InvalidArgumentError('write an age like 30d, 12h or 90m');
  return ms;
}

export function pruneCommand(program: Command): void {
  program
    .command('prune')
    .description('delete deliveries, logs, artifacts and unused caches past retention, in small batches (runs keep their summary)')
    .option('--older-than <age>', 'what is older than this goes, like 30d or 12h (default: FORGELINE_RETENTION_DAYS, 90 days)', age)
    .option('--dry-run', 'count what would go, deleting nothing')
    .option('--json', 'print {"before", "dryRun", "deliveries", "runs", "logChunks", "artifacts", "caches"}')
    .action(async (opts: { olderThan?: number; dryRun?: boolean; json?: boolean }) => {
      const config = readConfig();
      if (opts.olderThan === undefined && config.retentionDays === 0) {
        throw new Error('FORGELINE_RETENTION_DAYS=0 keeps everything: give --older-than to prune anyway');
      }
      const cutoff = opts.olderThan === undefined ? cutoffOf(config.retentionDays) : new Date(Date.now() - opts.olderThan);
      const db = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
      const blobs = openBlobStore(config.blobStore, db.pool);
      try {
        await migrate(db.pool);
        const went = await prune({ pool: db.pool, blobs }, cutoff, { dryRun: opts.dryRun });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ before: cutoff.toISOString(), dryRun: Boolean(opts.dryRun), ...went })}\n`);
        } else {
          const verb = opts.dryRun ? 'would delete' : 'deleted';
          process.stdout.write(`${verb}, from before ${cutoff.toISOString()}: ${went.deliveries} deliveries; the logs (${went.logChunks} chunks) and artifacts (${went.artifacts}) of ${went.runs} runs, which keep their summary; ${went.caches} caches unused since\n`);
        }
      } finally {
        await blobs.close();
        await db.close();
      }
    });
}

import type { Command } from 'commander';
import { connectDatabase, migrate } from '../../store/index.ts';
import { readConfig } from '../config.ts';

export function migrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply database migrations and exit')
    .option('--json', 'print the applied migrations as JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = readConfig();
      const db = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
      try {
        const applied = await migrate(db.pool);
        process.stdout.write(opts.json ? `${JSON.stringify({ applied })}\n` : `applied ${applied.length} migration(s)${applied.length ? `: ${applied.join(', ')}` : ''}\n`);
      } finally {
        await db.close();
      }
    });
}

// A child of bench/workers.ts: pg-boss alone, working no-op jobs from one
// queue with the same concurrency and polling as a Forgeline worker. Prints
// "ready" once it fetches, and stops on SIGTERM.
import { PgBoss } from 'pg-boss';

const [url, queue, concurrency] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4] ?? 2)];
const boss = new PgBoss({ connectionString: url, schema: 'pgboss', useListenNotify: true, max: Number(process.env.BENCH_NOOP_POOL ?? 3), registerInstance: false });
boss.on('error', (err) => console.error(err.message));
await boss.start();
// After each job its workers fetch again at once, as Forgeline's do (scheduler/workers.ts, wakeQueue), rather than at the next poll.
await boss.work(queue, { batchSize: 1, localConcurrency: concurrency, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 30 }, async () => {
  for (const worker of boss.getWipData()) if (worker.name === queue) boss.notifyWorker(worker.id);
});
console.log('ready');
process.on('SIGTERM', () => void boss.stop({ graceful: false, timeout: 1000 }).then(() => process.exit(0)));

import type { PgBoss } from 'pg-boss';
import { deliveries, withTransaction, type Pool } from '../store/index.ts';
import { inlineJob, inTransaction, QUEUES, type PlanJob } from '../scheduler/queues.ts';

type Stored = deliveries.Stored;

interface Waiting {
  delivery: deliveries.NewDelivery;
  resolve: (stored: Stored) => void;
  reject: (err: unknown) => void;
}

// Deadlock or serialization failure between batches committed side by side, or a delivery id
// accepted by a batch that committed meanwhile (a second look calls it a duplicate): safe to run again.
const RETRYABLE = new Set(['40P01', '40001', '23505']);

/**
 * Group commit for the hook path. Deliveries that arrive while batches are
 * being committed wait for the next one; each batch is one statement that
 * stores them all with one plan job for its accepted deliveries (pg-boss's
 * insert inside it: one round trip, and no BEGIN or COMMIT), and up to
 * `parallel` batches commit side by side. A batch with pull request heads to
 * settle takes a transaction. Every caller is answered only after its batch
 * commits, so a 2xx still means durable. Under no load a batch is a single
 * delivery, committed at once.
 */
export function deliveryBatcher(pool: Pool, boss: PgBoss, opts: { maxBatch?: number; parallel?: number } = {}) {
  const maxBatch = opts.maxBatch ?? 200;
  const parallel = opts.parallel ?? 1;
  let waiting: Waiting[] = [];
  let inFlight = 0;
  let lastTurn: Promise<void> = Promise.resolve();
  // Made once, by the first batch: pg-boss reads its queue's settings to build the insert.
  let planJob: Promise<deliveries.InlineJob | null> | undefined;

  /** Stores the batch and sends its plan job in the transaction, the way pg-boss's API does it. */
  const storeThenSend = (batch: deliveries.NewDelivery[], turn: deliveries.SettleTurn) => withTransaction(pool, async (tx) => {
    const result = await deliveries.storeDeliveries(tx, batch, { turn });
    const accepted = result.filter((r) => r.status === 'accepted').map((r) => r.id);
    if (accepted.length) {
      const job: PlanJob = { deliveryIds: accepted };
      await boss.send(QUEUES.plan, job, { db: inTransaction(tx) });
    }
    return result;
  });

  async function commit(batch: Waiting[]): Promise<void> {
    let done!: () => void;
    const turn = { wait: lastTurn, done: () => done() };
    lastTurn = new Promise<void>((resolve) => { done = resolve; });
    const rows = batch.map((w) => w.delivery);
    try {
      // A failure (the database away) is tried again by the next batch.
      const job = await (planJob ??= inlineJob(boss, QUEUES.plan).catch((err) => { planJob = undefined; throw err; }));
      const store = () => !job ? storeThenSend(rows, turn)
        : deliveries.needsTransaction(rows) ? withTransaction(pool, (tx) => deliveries.storeDeliveries(tx, rows, { turn, job }))
        : deliveries.storeDeliveries(pool, rows, { turn, job });
      let stored: Stored[];
      try {
        stored = await store();
      } catch (err) {
        if (!RETRYABLE.has((err as { code?: string }).code ?? '')) throw err;
        turn.wait = Promise.resolve();
        stored = await store();
      }
      // Answered on the next turn of the event loop: the next batch goes to the database first,
      // so it is not kept waiting while these requests' answers are written.
      setImmediate(() => batch.forEach((w, i) => w.resolve(stored[i]!)));
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      turn.done();
    }
  }

  async function drain(): Promise<void> {
    inFlight++;
    while (waiting.length) {
      const batch = waiting.slice(0, maxBatch);
      waiting = waiting.slice(batch.length);
      await commit(batch);
    }
    inFlight--;
  }

  return {
    store(delivery: deliveries.NewDelivery): Promise<Stored> {
      return new Promise<Stored>((resolve, reject) => {
        waiting.push({ delivery, resolve, reject });
        if (inFlight < parallel) void drain();
      });
    },
  };
}

export type DeliveryBatcher = ReturnType<typeof deliveryBatcher>;

import type { PgBoss } from 'pg-boss';
import { deliveries, withTransaction, type Pool } from '../store/index.ts';
import { inTransaction, QUEUES, type PlanJob } from './queues.ts';

type Stored = deliveries.Stored;

interface Waiting {
  delivery: deliveries.NewDelivery;
  resolve: (stored: Stored) => void;
  reject: (err: unknown) => void;
}

// Deadlock or serialization failure between batches committed side by side: safe to run again.
const RETRYABLE = new Set(['40P01', '40001']);

/**
 * Group commit for the hook path. Deliveries that arrive while batches are
 * being committed wait for the next one; each batch is one transaction with
 * one multi-row insert and one plan job for all its accepted deliveries, and
 * up to `parallel` batches commit side by side (the database's round trips,
 * not its CPU, bound one batch). Every caller is answered only after its
 * batch commits, so a 2xx still means durable. Under no load a batch is a
 * single delivery, committed at once.
 */
export function deliveryBatcher(pool: Pool, boss: PgBoss, opts: { maxBatch?: number; parallel?: number } = {}) {
  const maxBatch = opts.maxBatch ?? 200;
  const parallel = opts.parallel ?? 1;
  let waiting: Waiting[] = [];
  let inFlight = 0;
  let lastTurn: Promise<void> = Promise.resolve();

  async function commit(batch: Waiting[]): Promise<void> {
    let done!: () => void;
    const turn = { wait: lastTurn, done: () => done() };
    lastTurn = new Promise<void>((resolve) => { done = resolve; });
    const store = () => withTransaction(pool, async (tx) => {
      const result = await deliveries.storeDeliveries(tx, batch.map((w) => w.delivery), turn);
      const accepted = result.filter((r) => r.status === 'accepted').map((r) => r.id);
      if (accepted.length) {
        const job: PlanJob = { deliveryIds: accepted };
        await boss.send(QUEUES.plan, job, { db: inTransaction(tx) });
      }
      return result;
    });
    try {
      let stored: Stored[];
      try {
        stored = await store();
      } catch (err) {
        if (!RETRYABLE.has((err as { code?: string }).code ?? '')) throw err;
        turn.wait = Promise.resolve();
        stored = await store();
      }
      batch.forEach((w, i) => w.resolve(stored[i]!));
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

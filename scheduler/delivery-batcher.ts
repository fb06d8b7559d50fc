import type { PgBoss } from 'pg-boss';
import { deliveries, withTransaction, type Pool } from '../store/index.ts';
import { inTransaction, QUEUES, type PlanJob } from './queues.ts';

type Stored = deliveries.Stored;

interface Waiting {
  delivery: deliveries.NewDelivery;
  resolve: (stored: Stored) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for the hook path. Deliveries that arrive while a batch is
 * being committed wait for the next one; each batch is one transaction with
 * one multi-row insert and one plan job for all its accepted deliveries.
 * Every caller is answered only after its batch commits, so a 2xx still
 * means durable. Under no load a batch is a single delivery, committed at once.
 */
export function deliveryBatcher(pool: Pool, boss: PgBoss, maxBatch = 200) {
  let waiting: Waiting[] = [];
  let flushing = false;

  async function commit(batch: Waiting[]): Promise<void> {
    try {
      const stored = await withTransaction(pool, async (tx) => {
        const result = await deliveries.storeDeliveries(tx, batch.map((w) => w.delivery));
        const accepted = result.filter((r) => r.status === 'accepted').map((r) => r.id);
        if (accepted.length) {
          const job: PlanJob = { deliveryIds: accepted };
          await boss.send(QUEUES.plan, job, { db: inTransaction(tx) });
        }
        return result;
      });
      batch.forEach((w, i) => w.resolve(stored[i]!));
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }

  async function flush(): Promise<void> {
    flushing = true;
    while (waiting.length) {
      const batch = waiting.slice(0, maxBatch);
      waiting = waiting.slice(batch.length);
      await commit(batch);
    }
    flushing = false;
  }

  return {
    store(delivery: deliveries.NewDelivery): Promise<Stored> {
      return new Promise<Stored>((resolve, reject) => {
        waiting.push({ delivery, resolve, reject });
        if (!flushing) void flush();
      });
    },
  };
}

export type DeliveryBatcher = ReturnType<typeof deliveryBatcher>;

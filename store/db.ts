import { createHash } from 'node:crypto';
import pg from 'pg';

// bigint ids (bigserial) fit comfortably in a JS number for any realistic run count.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** Anything that runs a query: the pool, or a client inside a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /** A named query is prepared once per connection and reused. */
  query<R extends pg.QueryResultRow = any>(config: { name: string; text: string; values: unknown[] }): Promise<pg.QueryResult<R>>;
}

export type Pool = pg.Pool;

/**
 * A name for preparing `text` once per connection: the same text always gets
 * the same name, so a statement whose text changes is never run under an
 * older one's name.
 */
export function statementName(prefix: string, text: string): string {
  return `${prefix}-${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
}

export function createPool(url: string, max = 10, options?: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, options });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {});
  // Nor a checked-out one between two queries (a transaction awaiting other
  // work): pg emits the error on the client, where nothing listens. Its next
  // query fails, the caller handles that, and the pool drops it on release.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * Connections for the hook path's group commit. Its one statement reads
 * earlier deliveries and claims by key; prepared, it runs a generic plan
 * costed from the tables' statistics, and one made while they were empty
 * scans them for each row (seen: ingest falling from 2,000 to 60 deliveries
 * a second as they filled, until autovacuum analyzed them). Without scans
 * or bitmaps to choose from, the planner takes the key lookups whatever
 * the statistics say.
 */
export function createIngestPool(url: string, max = 2): pg.Pool {
  return createPool(url, max, '-c enable_seqscan=off -c enable_bitmapscan=off');
}

interface TransactionEnd {
  committed: Array<() => void>;
  rolledBack: Array<() => void>;
}

// What to do when a transaction of withTransaction ends, by its client.
const ends = new WeakMap<object, TransactionEnd>();

/**
 * Calls `committed` once the transaction `tx` has committed, or `rolledBack`
 * if it does not, and answers true; answers false, calling neither, when
 * `tx` is not a transaction of withTransaction (a statement on the pool).
 */
export function onTransactionEnd(tx: Queryable, committed: () => void, rolledBack: () => void): boolean {
  const end = ends.get(tx);
  if (!end) return false;
  end.committed.push(committed);
  end.rolledBack.push(rolledBack);
  return true;
}

function callAll(hooks: Array<() => void>): void {
  for (const hook of hooks) {
    try {
      hook();
    } catch {
      // The hooks start work in the background; each one reports its own failures.
    }
  }
}

/** Runs fn in one transaction on a dedicated client; commits only if fn resolves. */
export async function withTransaction<T>(pool: pg.Pool, fn: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const end: TransactionEnd = { committed: [], rolledBack: [] };
  ends.set(client, end);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    const commit = await client.query('COMMIT');
    ends.delete(client);
    // COMMIT of a transaction aborted by an error that fn swallowed answers ROLLBACK, without throwing.
    callAll(commit.command === 'COMMIT' ? end.committed : end.rolledBack);
    return result;
  } catch (err) {
    ends.delete(client);
    await client.query('ROLLBACK').catch(() => {});
    callAll(end.rolledBack);
    throw err;
  } finally {
    client.release();
  }
}

/** Whether the database answers (readiness). */
export async function ping(db: Queryable): Promise<void> {
  await db.query('SELECT 1');
}

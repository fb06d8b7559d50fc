import { inject } from 'vitest';
import { scratchDatabase, type TestDatabase } from './scratch-database.ts';

export type { TestDatabase };

/** A new, empty database on the test server, for one test file. */
export function freshDatabase(): Promise<TestDatabase> {
  return scratchDatabase(inject('adminDatabaseUrl'));
}

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../store/embedded.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A server where each test file creates its own database. */
    adminDatabaseUrl: string;
  }
}

/** DATABASE_URL when set; otherwise one embedded PostgreSQL for the whole run. */
export default async function setup(project: TestProject) {
  if (process.env.DATABASE_URL) {
    project.provide('adminDatabaseUrl', process.env.DATABASE_URL);
    return;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'forgeline-test-pg-'));
  // As root, PostgreSQL runs as the `postgres` user, who must be able to reach the cluster below.
  await chmod(dir, 0o755);
  const cluster = await startEmbeddedPostgres(dir);
  project.provide('adminDatabaseUrl', cluster.url);
  return async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  };
}

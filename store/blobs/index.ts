import type { Pool } from 'pg';
import { postgresBlobStore } from './postgres.ts';
import { s3BlobStore } from './s3.ts';
import type { BlobStore } from './types.ts';

export type { BlobStore } from './types.ts';
export { s3BlobStore } from './s3.ts';
export { postgresBlobStore } from './postgres.ts';

/** The stores by the scheme FORGELINE_BLOB_STORE names them with; a new store is one file and one line here. */
const STORES: Record<string, (url: URL, pool: Pool, env: NodeJS.ProcessEnv) => BlobStore> = {
  'postgres:': (_url, pool) => postgresBlobStore(pool),
  's3:': (url, _pool, env) => s3BlobStore(url, env),
};

/** FORGELINE_BLOB_STORE, and the variables its client reads (AWS_*: credentials, region, endpoint). */
export interface BlobStoreSetting {
  url: string;
  env: NodeJS.ProcessEnv;
}

/** FORGELINE_BLOB_STORE: `postgres` (the default) or `s3://bucket/prefix`. */
export function openBlobStore(setting: BlobStoreSetting, pool: Pool): BlobStore {
  const raw = setting.url.trim() || 'postgres';
  let url: URL;
  try {
    url = new URL(raw.includes(':') ? raw : `${raw}:`);
  } catch {
    throw new Error(`FORGELINE_BLOB_STORE must be postgres or s3://bucket/prefix, not '${raw}'`);
  }
  const open = STORES[url.protocol];
  if (!open) throw new Error(`FORGELINE_BLOB_STORE must be postgres or s3://bucket/prefix, not '${raw}'`);
  return open(url, pool, setting.env);
}

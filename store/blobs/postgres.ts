import { createReadStream, createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { withTransaction, type Pool } from '../db.ts';
import type { BlobStore } from './types.ts';

/** What one row of `blob_chunks` holds: small enough for a quick insert, big enough that rows stay few. */
const CHUNK_BYTES = 1024 * 1024;
/** Chunks read per query. */
const PAGE = 8;

/**
 * The default store: blobs in the database itself, as rows of 1 MiB in
 * `blob_chunks`. Written in one transaction, so a blob is whole or absent;
 * read a page of chunks at a time.
 */
export function postgresBlobStore(pool: Pool): BlobStore {
  return {
    name: 'postgres',
    async put(key, file) {
      await withTransaction(pool, async (tx) => {
        let seq = 0;
        for await (const chunk of createReadStream(file, { highWaterMark: CHUNK_BYTES })) {
          await tx.query('INSERT INTO blob_chunks (key, seq, data) VALUES ($1, $2, $3)', [key, seq++, chunk]);
        }
        // An empty file is still a blob: one empty chunk says it exists.
        if (seq === 0) await tx.query('INSERT INTO blob_chunks (key, seq, data) VALUES ($1, 0, $2)', [key, Buffer.alloc(0)]);
      });
    },
    async get(key, dest) {
      const out = createWriteStream(dest, { mode: 0o600 });
      let found = false;
      try {
        for (let next = 0; ; next += PAGE) {
          const { rows } = await pool.query<{ data: Buffer }>('SELECT data FROM blob_chunks WHERE key = $1 AND seq >= $2 ORDER BY seq LIMIT $3', [key, next, PAGE]);
          for (const row of rows) if (!out.write(row.data)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
          found ||= rows.length > 0;
          if (rows.length < PAGE) break;
        }
      } finally {
        out.end();
        await finished(out);
      }
      return found;
    },
    async delete(keys) {
      if (keys.length) await pool.query('DELETE FROM blob_chunks WHERE key = ANY($1::text[])', [keys]);
    },
    async close() {},
  };
}

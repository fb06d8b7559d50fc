/**
 * Where archives (artifacts, caches) are kept (docs/operations.md, "Blob
 * store"): by key, streamed from and to files on the worker's disk, so no
 * archive is ever in memory whole. Rows in `artifacts` and `caches` name
 * their blob's key; the store only holds bytes.
 */
export interface BlobStore {
  /** `postgres` or `s3`, for logs and docs. */
  readonly name: string;
  /** Keeps the file's bytes under `key` (a key is written once). */
  put(key: string, file: string): Promise<void>;
  /** Writes the blob into `dest` (created, or replaced: a retry starts over); false when there is no such blob. */
  get(key: string, dest: string): Promise<boolean>;
  /** Deletes the blobs; a key with no blob is no error. */
  delete(keys: string[]): Promise<void>;
  close(): Promise<void>;
}

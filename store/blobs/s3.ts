import { createReadStream, createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { BlobStore } from './types.ts';

/** Deletes in flight at once: one request per key works on every S3-compatible service (a multi-object delete needs checksums some refuse). */
const DELETE_CONCURRENCY = 8;

/**
 * Blobs in any S3-compatible service (AWS S3, MinIO, Ceph), under
 * `s3://bucket/prefix`. Credentials and region come from the usual AWS
 * variables and files (AWS_ACCESS_KEY_ID, AWS_REGION, AWS_PROFILE, …);
 * AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) names a service other than AWS,
 * which is then addressed path-style (http://host/bucket/key), the style
 * MinIO and Ceph answer without DNS set up for each bucket.
 */
export function s3BlobStore(url: URL, env: NodeJS.ProcessEnv): BlobStore {
  const bucket = url.hostname;
  if (!bucket) throw new Error(`FORGELINE_BLOB_STORE ${url.href} names no bucket: give s3://BUCKET/PREFIX`);
  const prefix = url.pathname.replace(/^\/+/, '').replace(/\/*$/, '/').replace(/^\/$/, '');
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const client = new S3Client({
    endpoint,
    forcePathStyle: Boolean(endpoint),
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    // Keys given in the environment Forgeline was started with; else the SDK's own chain (profiles, instance roles).
    credentials: env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN || undefined }
      : undefined,
    // Checksums only where S3 requires them: several S3-compatible services refuse the newer trailing ones.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const objectKey = (key: string) => `${prefix}${key}`;
  return {
    name: 's3',
    async put(key, file) {
      // Multipart past 5 MiB, a few parts in flight: memory stays bounded whatever the archive's size.
      await new Upload({ client, params: { Bucket: bucket, Key: objectKey(key), Body: createReadStream(file) }, queueSize: 2 }).done();
    },
    async get(key, dest) {
      let body: Readable;
      try {
        const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        body = answer.Body as Readable;
      } catch (err) {
        if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return false;
        throw err;
      }
      await pipeline(body, createWriteStream(dest, { mode: 0o600 }));
      return true;
    },
    async delete(keys) {
      const queue = [...keys];
      await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, queue.length) }, async () => {
        for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        }
      }));
    },
    async close() {
      client.destroy();
    },
  };
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver';

/** A local S3-compatible server (s3rver, on disk in a temporary directory) with one bucket, and the AWS variables that reach it. */
export interface TestS3 {
  bucket: string;
  endpoint: string;
  env: Record<string, string>;
  /** The keys of the objects in the bucket (under `prefix`), sorted. */
  keys(prefix?: string): Promise<string[]>;
  /** Every request the server answered, as "METHOD path?query". */
  requests: string[];
  stop(): Promise<void>;
}

export async function startS3(bucket = 'forgeline'): Promise<TestS3> {
  const directory = await mkdtemp(path.join(tmpdir(), 'forgeline-s3-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket }] });
  const requests: string[] = [];
  // s3rver is a Koa app whose router ends the chain: middleware put first, before it starts, sees each request.
  server.middleware.unshift(async (ctx: { method: string; url: string }, next: () => Promise<void>) => {
    requests.push(`${ctx.method} ${ctx.url}`);
    await next();
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    bucket,
    endpoint,
    env: { AWS_ENDPOINT_URL_S3: endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' },
    requests,
    async keys(prefix = '') {
      const out: string[] = [];
      const { S3Client, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
      const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
      try {
        let token: string | undefined;
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
          out.push(...(page.Contents ?? []).map((o) => o.Key!));
          token = page.NextContinuationToken;
        } while (token);
      } finally {
        client.destroy();
      }
      return out.sort();
    },
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

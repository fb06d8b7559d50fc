import path from 'node:path';
import { DEFAULT_MAX_ARTIFACT_BYTES } from '../runners/index.ts';
import { DEFAULT_PLANNING_LIMITS } from '../pipelines/index.ts';
import { forgeNames } from '../providers/index.ts';
import { DEFAULT_CACHE_MAX_BYTES, DEFAULT_LOG_MAX_BYTES } from '../scheduler/index.ts';
import { PUBLIC_FORGE_HOSTS, type UrlPolicy } from '../ingest/index.ts';
import type { TransportConfig } from '../server/index.ts';
import type { BlobStoreSetting } from '../store/index.ts';
import { defaultDataDir } from './paths.ts';

/** Everything Forgeline reads from its environment (docs/cli.md), in one place. */
export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  port: number;
  publicUrl: string;
  secretKey: string | undefined;
  apiToken: string | undefined;
  publicRead: boolean;
  urls: UrlPolicy;
  logLevel: string;
  /** LOG_FORMAT: `pretty` lines for a person, `json` lines for a collector; default pretty on a terminal. */
  logFormat: 'pretty' | 'json';
  bodyLimitBytes: number;
  /** FORGELINE_<FORGE>_WEBHOOK_SECRET, comma-separated, for the forge-wide hooks. */
  forgeSecrets: Partial<Record<string, string[]>>;
  /** Unverified requests allowed per source address and minute before 429. */
  unverifiedPerMinute: number;
  /** FORGELINE_HEARTBEAT_SECONDS: worker-loss detection. */
  heartbeatSeconds: number;
  /** FORGELINE_ARTIFACT_MAX_BYTES: a stage's artifacts, uncompressed. */
  artifactMaxBytes: number;
  /** FORGELINE_LOG_MAX_BYTES: a stage's log, past which output is dropped (a line says so). */
  logMaxBytes: number;
  /** FORGELINE_CACHE_MAX_BYTES: one repository's caches together, least recently used first out. */
  cacheMaxBytes: number;
  /** FORGELINE_BLOB_STORE: `postgres` (default) or `s3://bucket/prefix`, where artifacts and caches are kept; with the AWS_* variables an S3 client reads. */
  blobStore: BlobStoreSetting;
  /** FORGELINE_PLANNING_SECONDS: computing time for planning one event (or deciding one stage's `if`), past which its pipelines fail. */
  planningSeconds: number;
  /** FORGELINE_SCHEDULE_CHECK_SECONDS: how late after its minute a schedule may fire (1–45). */
  scheduleCheckSeconds: number;
  /** FORGELINE_SHUTDOWN_SECONDS: how long SIGTERM waits for running stages. */
  shutdownSeconds: number;
  /** FORGELINE_RECOVERY_SECONDS: how often missed deliveries are looked for. */
  recoverySeconds: number;
  /** FORGELINE_RETENTION_DAYS: deliveries, logs, artifacts and unused caches older than this are pruned (0: kept forever). */
  retentionDays: number;
  /** FORGELINE_PRUNE_INTERVAL_SECONDS: how often serve prunes. */
  pruneIntervalSeconds: number;
  transport: TransportConfig;
}

/** FORGELINE_<FORGE>_WEBHOOK_SECRET's <FORGE>: the forge's name in capitals, `-` as `_` (BITBUCKET_SERVER). */
const forgeEnvName = (forge: string) => forge.toUpperCase().replace(/-/g, '_');

/** A whole-number setting within bounds, or an error naming it (rather than a NaN that would lift a limit). */
function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, not '${raw}'`);
  return n;
}

/** A forge-wide hook's secrets, comma-separated: set means each one given, or the hook would take deliveries signed with "". */
function forgeSecrets(env: NodeJS.ProcessEnv, name: string): string[] {
  const raw = env[name];
  if (raw === undefined) return [];
  const secrets = raw.split(',').map((s) => s.trim());
  if (secrets.some((s) => s === '')) throw new Error(`${name} holds an empty secret: give each secret (comma-separated), or unset it`);
  return secrets;
}

function logFormat(env: NodeJS.ProcessEnv): 'pretty' | 'json' {
  const raw = env.LOG_FORMAT || (process.stdout.isTTY ? 'pretty' : 'json');
  if (raw !== 'pretty' && raw !== 'json') throw new Error(`LOG_FORMAT must be pretty or json, not '${raw}'`);
  return raw;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env, overrides: { port?: number } = {}): Config {
  const port = overrides.port ?? Number(env.PORT ?? 8080);
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: path.resolve(env.FORGELINE_DATA_DIR || defaultDataDir(env)),
    port,
    publicUrl: (env.FORGELINE_PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    secretKey: env.FORGELINE_SECRET_KEY || undefined,
    apiToken: env.FORGELINE_API_TOKEN || undefined,
    publicRead: env.FORGELINE_PUBLIC_READ === 'true',
    urls: {
      allowedHosts: env.FORGELINE_ALLOWED_HOSTS ? env.FORGELINE_ALLOWED_HOSTS.split(',').map((h) => h.trim()).filter(Boolean) : PUBLIC_FORGE_HOSTS,
      allowLocal: env.FORGELINE_ALLOW_LOCAL === 'true',
    },
    logLevel: env.LOG_LEVEL ?? 'info',
    logFormat: logFormat(env),
    bodyLimitBytes: Number(env.FORGELINE_BODY_LIMIT_BYTES ?? 25 * 1024 * 1024),
    forgeSecrets: Object.fromEntries(forgeNames().map((forge) => [forge, forgeSecrets(env, `FORGELINE_${forgeEnvName(forge)}_WEBHOOK_SECRET`)])),
    unverifiedPerMinute: Number(env.FORGELINE_UNVERIFIED_PER_MINUTE ?? 60),
    heartbeatSeconds: wholeNumber(env, 'FORGELINE_HEARTBEAT_SECONDS', 30, 1),
    scheduleCheckSeconds: wholeNumber(env, 'FORGELINE_SCHEDULE_CHECK_SECONDS', 5, 1, 45),
    artifactMaxBytes: wholeNumber(env, 'FORGELINE_ARTIFACT_MAX_BYTES', DEFAULT_MAX_ARTIFACT_BYTES, 1),
    logMaxBytes: wholeNumber(env, 'FORGELINE_LOG_MAX_BYTES', DEFAULT_LOG_MAX_BYTES, 1024),
    cacheMaxBytes: wholeNumber(env, 'FORGELINE_CACHE_MAX_BYTES', DEFAULT_CACHE_MAX_BYTES, 0),
    blobStore: { url: env.FORGELINE_BLOB_STORE || 'postgres', env: Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('AWS_'))) },
    planningSeconds: wholeNumber(env, 'FORGELINE_PLANNING_SECONDS', DEFAULT_PLANNING_LIMITS.seconds, 1, 600),
    shutdownSeconds: wholeNumber(env, 'FORGELINE_SHUTDOWN_SECONDS', 30, 0),
    recoverySeconds: wholeNumber(env, 'FORGELINE_RECOVERY_SECONDS', 300, 1),
    retentionDays: wholeNumber(env, 'FORGELINE_RETENTION_DAYS', 90, 0),
    pruneIntervalSeconds: wholeNumber(env, 'FORGELINE_PRUNE_INTERVAL_SECONDS', 3600, 1),
    transport: {
      tlsCert: env.FORGELINE_TLS_CERT || null,
      tlsKey: env.FORGELINE_TLS_KEY || null,
      tlsClientCa: env.FORGELINE_TLS_CLIENT_CA || null,
      requireHttps: env.FORGELINE_REQUIRE_HTTPS === 'true',
      trustedProxies: (env.FORGELINE_TRUSTED_PROXIES ?? '').split(',').map((c) => c.trim()).filter(Boolean),
    },
  };
}

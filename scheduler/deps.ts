import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { PlanningPool } from '../pipelines/index.ts';
import type { Backend } from '../runners/index.ts';
import type { BlobStore, Session, Pool, Repo, RunRow, SecretBox } from '../store/index.ts';
import type { PreparedCheckouts } from './prepared-checkouts.ts';
import type { Reporter } from './reporter.ts';
import type { StageJob } from './queues.ts';

/** What the scheduler's handlers share in one process. */
export interface SchedulerDeps {
  pool: Pool;
  /** The process's own PostgreSQL session: LISTEN (pg-boss's wake-ups, cancels) and session locks. */
  session: Session;
  boss: PgBoss;
  box: SecretBox;
  log: Logger;
  /** Where this process runs stages (`--backend`, runners/backends/). */
  backend: Backend;
  /** Holds mirrors/ and, without --run-as, workspaces/. */
  dataDir: string;
  /** Where stages get their checkouts: outside the data dir with --run-as, so the step user never needs to enter it. */
  workspaceRoot?: string;
  /** Base of hook and target URLs (FORGELINE_PUBLIC_URL). */
  publicUrl: string;
  /** Names this process in stage rows and logs. */
  workerName: string;
  /** `--run-as`: steps run as this user, isolated from the worker. */
  runAs?: { name: string; uid: number; gid: number } | null;
  /**
   * `--fork-run-as`: a fork's pull request's steps run as this second user, who
   * cannot read the environment (secrets) or workspace of the other steps.
   * While no live worker has one, every fork's pull request waits for approval.
   */
  forkRunAs?: { name: string; uid: number; gid: number } | null;
  /** Where artifacts and caches are kept (FORGELINE_BLOB_STORE). */
  blobs: BlobStore;
  /** FORGELINE_ARTIFACT_MAX_BYTES: the most a stage's artifacts may hold, uncompressed (default 100 MiB). */
  artifactMaxBytes?: number;
  /** FORGELINE_LOG_MAX_BYTES: the most a stage's log keeps (default 64 MiB). */
  logMaxBytes?: number;
  /** FORGELINE_CACHE_MAX_BYTES: what one repository's caches may hold together (default 10 GiB). */
  cacheMaxBytes?: number;
  /** Where pipeline files are planned and stage conditions decided, within limits (FORGELINE_PLANNING_SECONDS); the process's shared pool when unset. */
  planning?: PlanningPool;
  /** FORGELINE_HEARTBEAT_SECONDS, for telling whether a worker with the right labels is alive. */
  heartbeatSeconds?: number;
  /** Set while this process takes stages: checkouts planning starts for them (scheduler/prepared-checkouts.ts). */
  prepared?: PreparedCheckouts;
  /**
   * Set while this process takes stages: a free slot here for a stage with
   * these labels, or null. The stage opened with it is claimed by this
   * process in the opening transaction and started once that commits.
   */
  slotHere?: (labels: string[]) => StageSlot | null;
  /** Set while this process takes report jobs: it reports the runs its own transactions changed, after they commit. */
  reporter?: Reporter;
}

export interface StageSlot {
  /** Runs the stage, claimed already, in this slot; its run and repository as the opening transaction read them. */
  start(job: StageJob, claimed: { run: RunRow; repo: Repo }): void;
  /** Gives the slot back unused. */
  release(): void;
}

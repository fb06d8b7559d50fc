import type { PullPolicy, Resources, Service, Step } from '../pipelines/types.ts';
import type { PackedArchive } from './artifacts.ts';
import type { StepContext } from './step-env.ts';
import type { RunAsUser } from './run-as.ts';
import type { StageOutcome } from './types.ts';

/** The commit a stage's checkout is made from. */
export interface CheckoutSource {
  mirror: string;
  sha: string;
  /** A copy that shares no object store with the mirror (`--run-as`: the step user owns all of it). */
  independent: boolean;
}

/**
 * Everything a back end needs to run one stage, as the scheduler decided
 * it: which commit, which steps with which environment and user, what to
 * restore before and keep after, and where its output goes.
 */
export interface StageSpec {
  /** Unique per attempt: names the stage's workspace (and, for containers, its containers). */
  id: string;
  /** The worker running it (a label of its containers). */
  worker?: string;
  /** Where workspaces live on this worker (`--run-as` puts them outside the data dir). */
  workspaceRoot: string;
  /** The commit checked out for the stage; absent with `workdir`. */
  checkout?: CheckoutSource;
  /**
   * An existing directory the steps run in as it is (`forgeline exec`: the
   * working tree): no checkout is made, and it is left in place afterwards.
   */
  workdir?: string;
  /** Checkouts planning made ahead for this worker; the stage takes its own when there. */
  prepared?: { take(checkout: CheckoutSource, dest: string): Promise<boolean> } | null;
  /** The container image the steps run in (`image:`); null: on the worker's host. */
  image: string | null;
  /** When images are pulled (`pull:`). */
  pull?: PullPolicy;
  /** Containers beside the stage's (`services:`); only a back end that runs images runs them. */
  services?: Service[];
  /** The stage's limits; null fields take the worker's defaults. */
  resources?: Resources;
  /** `cache:` entries, restored before the first step and saved after a success (runners/caches.ts). */
  caches?: StageCache[];
  steps: Step[];
  /** The pipeline's and stage's `env` and the stage's secrets; a step's own `env` overrides them. */
  env: Record<string, string>;
  /** What the variables of docs/pipelines.md, "What a step gets", are made from. */
  context: StepContext;
  timeoutMs: number;
  /** Aborting cancels the stage: whatever it started is stopped. */
  signal?: AbortSignal;
  /** The user steps run as; null: the worker's own. */
  user: RunAsUser | null;
  /** Archives of the stages this one needs, unpacked into the checkout before the first step. */
  restore: ArtifactSource[];
  /** `artifacts:` globs, kept after a success. */
  keep: string[];
  /** Keeps the archive `keep` packed (where is the caller's business); needed when `keep` names globs. */
  saveArtifacts?: (packed: PackedArchive) => Promise<void>;
  artifactMaxBytes?: number;
  /** Receives output as it is produced, in order (already masked by the caller). */
  log(chunk: string): void;
}

/**
 * One `cache:` entry of a stage, its key already made (docs/pipelines.md,
 * "Caches"); where archives are kept is the caller's business.
 */
export interface StageCache {
  /** The effective key: `<key>-<hash of the files, the image, the matrix values>`. */
  key: string;
  /** Relative to the checkout. */
  paths: string[];
  /** Writes the archive to restore into `dest` and answers the key it was saved under, or null when there is none. */
  restore(dest: string): Promise<{ key: string } | null>;
  /** Keeps the archive under `key`; null when this stage may not save (a fork's pull request). */
  save: ((packed: PackedArchive) => Promise<boolean>) | null;
}

/** The artifacts of one stage this one needs. */
export interface ArtifactSource {
  stage: string;
  files: string[];
  /** Writes the archive into `dest` (a file that does not exist yet). */
  fetch(dest: string): Promise<void>;
}

/** What a back end answers for a stage: its outcome (artifacts were kept through `saveArtifacts` already). */
export type StageResult = StageOutcome;

/**
 * Where stages run (`--backend NAME`). The scheduler claims a stage, gathers
 * its secrets and the artifacts it needs, asks a back end to run it, and
 * records what it answers; the back end owns the workspace, the checkout,
 * the processes (or containers) and their cleanup. A back end throws for a
 * stage it could not set up (a checkout, an artifact): the stage fails with
 * the message.
 */
export interface Backend {
  readonly name: string;
  /** Runs stages that name an `image` (containers); such stages go only to workers whose back end does. */
  readonly runsImages?: boolean;
  runStage(spec: StageSpec): Promise<StageResult>;
  /** Why this back end cannot run stages now (its engine does not answer), or null when it can. */
  unavailable?(): Promise<string | null>;
  /** Stops every running step until called with false (the worker lost the database). */
  hold?(held: boolean): void;
  /**
   * Removes what stages left behind on this machine (a worker killed with -9
   * leaves its containers): whatever it finds, it first asks `running` which
   * of their ids are stages still running, and keeps those. Answers the ids
   * removed. A back end whose stages leave nothing behind has none.
   */
  removeLeftovers?(running: (ids: string[]) => Promise<Set<string>>): Promise<string[]>;
}

import { changedFiles, commitMessage, listFilesAt, mergeBase, readBlobs, type BlobEntry } from '../git/index.ts';
import { PIPELINE_DIR, PIPELINE_FILE } from './explain.ts';

/**
 * What planning can ask of the repository. Planning itself only computes:
 * every read goes through here, so that it can run in a thread of its own
 * while the reads stay with the process that owns the repository
 * (planning-pool.ts).
 */
export interface RepoView {
  /** The full id of a commit, fetching it when needed; throws when it cannot be had. */
  ensureCommit(sha: string): Promise<string>;
  /** The default branch's head, or null when unknown. */
  defaultBranchHead(): Promise<string | null>;
  branchHead(branch: string): Promise<string | null>;
  /** The pipeline files (.forgeline/*.yml) at a commit, with their blob ids. */
  pipelineFiles(sha: string): Promise<BlobEntry[]>;
  blobs(ids: string[]): Promise<Map<string, string>>;
  commitMessage(sha: string): Promise<string>;
  mergeBase(a: string, b: string): Promise<string | null>;
  changedFiles(from: string, to: string): Promise<string[]>;
}

type Reads = Omit<RepoView, 'ensureCommit' | 'defaultBranchHead' | 'branchHead'>;

/** The reads of a git directory on this machine. */
export function gitReads(gitDir: string): Reads {
  return {
    pipelineFiles: (sha) => listFilesAt(gitDir, sha, PIPELINE_DIR, PIPELINE_FILE),
    blobs: (ids) => readBlobs(gitDir, ids),
    commitMessage: (sha) => commitMessage(gitDir, sha),
    mergeBase: (a, b) => mergeBase(gitDir, a, b),
    changedFiles: (from, to) => changedFiles(gitDir, from, to),
  };
}

/** A RepoView over a git directory on this machine; how commits and branch heads are had is the caller's. */
export function gitRepoView(gitDir: string, remote: Omit<RepoView, keyof Reads>): RepoView {
  return { ...remote, ...gitReads(gitDir) };
}

export { ensureCommit, hasFetched, listFilesAt, readBlobs, type BlobEntry } from './mirror.ts';
export { createCheckout } from './checkout.ts';
export { changedFiles, commitMessage, diffOf, mergeBase, remoteBranchHead, remoteDefaultBranch } from './diff.ts';
export { git } from './run-git.ts';
export { gitDirOf, localBranchHead, localDefaultBranchHead, resolveLocalCommit } from './local-repo.ts';
export { streamThrough, type StreamedExit } from './spawner.ts';

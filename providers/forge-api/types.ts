/** The webhook Forgeline wants on a repository: docs/forges.md, "Registering a repository". */
export interface HookSpec {
  /** FORGELINE_PUBLIC_URL/hooks/<hookId>: the one thing that tells our hook from others. */
  url: string;
  secret: string;
}

export interface EnsuredHook {
  /** The forge's id of the hook (GitHub's number, Bitbucket Cloud's {uuid}), as a string. */
  id: string;
  /** False when a hook with the same URL existed and was updated instead. */
  created: boolean;
}

/** A branch and the commit at its head: docs/forges.md, "Missed deliveries" compares these with the last events seen. */
export interface BranchHead {
  branch: string;
  sha: string;
}

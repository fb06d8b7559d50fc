import type { ForgeEvent, ForgeName } from './types.ts';

const ZERO_SHA = /^0+$/;

/** An event with every field present and null, to be filled in by a parser. */
export function blankEvent(forge: ForgeName, kind: ForgeEvent['kind'], repoName: string, cloneUrl: string | null): ForgeEvent {
  return {
    forge, kind, action: null,
    repo: { name: repoName, cloneUrl },
    ref: null, branch: null, tag: null, sha: null, before: null,
    created: false, deleted: false, forced: false,
    message: null, pullRequest: null, sender: null, source: null, type: null,
  };
}

/** True for the all-zero id forges send for a ref that did not exist (or no longer does). */
export function isZeroSha(sha: string | null): boolean {
  return sha === null || ZERO_SHA.test(sha);
}

/** Fills ref, branch or tag, and kind, from a full ref name. */
export function applyRef(event: ForgeEvent, ref: string): void {
  event.ref = ref;
  if (ref.startsWith('refs/tags/')) {
    event.kind = 'tag';
    event.tag = ref.slice('refs/tags/'.length);
  } else {
    event.kind = 'push';
    event.branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref;
  }
}

/**
 * An event made on this machine (`forgeline exec`), of no forge: it carries
 * GitHub's name because the normalized event needs one, and nothing reads it.
 */
export function localEvent(kind: ForgeEvent['kind'], repoName: string): ForgeEvent {
  return blankEvent('github', kind, repoName, null);
}

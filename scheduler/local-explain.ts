import { gitDirOf, localBranchHead, localDefaultBranchHead, resolveLocalCommit } from '../git/index.ts';
import { explainEvent, gitRepoView, type EventExplain, type RepoView } from '../pipelines/index.ts';
import { providerFor, type ForgeEvent } from '../providers/index.ts';

/** A repository on disk as planning sees it: nothing is fetched, every commit must be there. */
export async function localRepoView(dir: string): Promise<RepoView & { gitDir: string }> {
  const gitDir = await gitDirOf(dir);
  return {
    gitDir,
    ...gitRepoView(gitDir, {
      async ensureCommit(sha) {
        const full = await resolveLocalCommit(gitDir, sha);
        if (!full) throw new Error(`commit ${sha} is not in ${dir}: fetch it first`);
        return full;
      },
      defaultBranchHead: () => localDefaultBranchHead(gitDir),
      branchHead: (branch) => localBranchHead(gitDir, branch),
    }),
  };
}

/**
 * `forgeline explain`: what the server would make of a payload, against the
 * pipeline files of a local repository at the event's commit.
 */
export async function explainPayload(opts: { forge: string; eventHeader: string; payload: Buffer; dir: string }): Promise<{ events: EventExplain[]; ignored?: string }> {
  const provider = providerFor(opts.forge);
  if (!provider) throw new Error(`unknown forge '${opts.forge}'`);
  const headers = { [provider.parse.eventHeader]: opts.eventHeader, 'content-type': 'application/json' };
  const payload = provider.parse.payloadOf(headers, opts.payload);
  const parsed = provider.parse.events(headers, payload);
  if (parsed.outcome !== 'events') return { events: [], ignored: parsed.outcome === 'ignored' ? parsed.reason : 'a rerequested check starts no pipeline of its own' };
  const repo = await localRepoView(opts.dir);
  const events: EventExplain[] = [];
  for (const event of parsed.events as ForgeEvent[]) {
    if (!event.deleted && event.sha) {
      const pr = event.pullRequest;
      if (pr) {
        pr.headSha = (await resolveLocalCommit(repo.gitDir, pr.headSha)) ?? pr.headSha;
        if (pr.mergeSha) pr.mergeSha = (await resolveLocalCommit(repo.gitDir, pr.mergeSha)) ?? pr.mergeSha;
      }
      const resolved = await resolveLocalCommit(repo.gitDir, pr ? (pr.mergeSha ?? pr.headSha) : event.sha);
      if (!resolved) {
        events.push({ event, reason: `commit ${event.sha} is not in ${opts.dir}: fetch it first`, pipelines: [] });
        continue;
      }
      event.sha = resolved;
    }
    events.push(await explainEvent(repo, event, payload));
  }
  return { events };
}

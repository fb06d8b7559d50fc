import type { ForgeEvent } from '../providers/types.ts';
import { evaluateCondition } from './cel.ts';
import { matchesFilter } from './globs.ts';
import type { Pipeline } from './types.ts';

/** Files changed by the event, from git; `unknown` says why they could not be known. */
export type ChangedPaths = { paths: string[] } | { unknown: string };

export interface MatchContext {
  /** Computed only when a path filter needs it. */
  changedPaths(): Promise<ChangedPaths>;
  /** The head commit's message, for [skip ci]. */
  commitMessage(): Promise<string | null>;
  /** The raw payload, for CEL. */
  payload: unknown;
}

export interface MatchResult {
  triggered: boolean;
  /** Why it runs, or the exact filter that rejected it. */
  reason: string;
  /** The trigger key that decided (on.push, on.pull_request, …), null when none applies. */
  trigger: string | null;
  /** A pipeline `if` that failed to evaluate: the run reports failure with this message. */
  error?: string;
}

const list = (patterns: string[]) => `[${patterns.join(', ')}]`;
const SKIP = /\[(skip ci|ci skip)\]/i;

function no(trigger: string | null, reason: string): MatchResult {
  return { triggered: false, reason, trigger };
}

async function pathFilter(key: string, paths: string[] | null, ignore: string[] | null, ctx: MatchContext): Promise<MatchResult | string | null> {
  if (!paths && !ignore) return null;
  const changed = await ctx.changedPaths();
  if ('unknown' in changed) return `${key}: changed files unknown (${changed.unknown}), so it runs`;
  if (paths && !changed.paths.some((p) => matchesFilter(p, paths))) {
    return no(key, `${key}.paths: none of ${changed.paths.length} changed file(s) matches ${list(paths)}`);
  }
  if (ignore && changed.paths.every((p) => matchesFilter(p, ignore))) {
    return no(key, `${key}.paths-ignore: all ${changed.paths.length} changed file(s) match ${list(ignore)}`);
  }
  return `${key}.paths matched`;
}

async function matchTrigger(p: Pipeline, event: ForgeEvent, ctx: MatchContext): Promise<MatchResult> {
  switch (event.kind) {
    case 'push': {
      const push = p.on.push;
      if (!push) return no(null, 'on.push: not a trigger of this pipeline');
      if (!push.branches && push.tags) return no('on.push', `on.push: names only tags, so branch '${event.branch}' does not start it`);
      if (push.branches && !matchesFilter(event.branch ?? '', push.branches)) {
        return no('on.push', `on.push.branches: '${event.branch}' matches none of ${list(push.branches)}`);
      }
      const paths = await pathFilter('on.push', push.paths, push.pathsIgnore, ctx);
      if (paths && typeof paths === 'object') return paths;
      return { triggered: true, trigger: 'on.push', reason: [push.branches ? `on.push.branches: '${event.branch}' matches` : 'on.push', paths].filter(Boolean).join('; ') };
    }
    case 'tag': {
      const push = p.on.push;
      if (!push) return no(null, 'on.push: not a trigger of this pipeline');
      if (!push.tags && push.branches) return no('on.push', `on.push: names only branches, so tag '${event.tag}' does not start it`);
      if (push.tags && !matchesFilter(event.tag ?? '', push.tags)) return no('on.push', `on.push.tags: '${event.tag}' matches none of ${list(push.tags)}`);
      return { triggered: true, trigger: 'on.push', reason: push.tags ? `on.push.tags: '${event.tag}' matches` : 'on.push' };
    }
    case 'pull_request': {
      const pr = event.pullRequest!;
      if (event.action === 'merged' && p.on.merge) {
        const branches = p.on.merge.branches;
        if (branches && !matchesFilter(pr.baseRef, branches)) return no('on.merge', `on.merge.branches: '${pr.baseRef}' matches none of ${list(branches)}`);
        return { triggered: true, trigger: 'on.merge', reason: branches ? `on.merge.branches: '${pr.baseRef}' matches` : 'on.merge' };
      }
      const trigger = p.on.pull_request;
      if (!trigger) return no(null, event.action === 'merged' ? 'on.merge: not a trigger of this pipeline' : 'on.pull_request: not a trigger of this pipeline');
      if (!trigger.types.includes(event.action!)) return no('on.pull_request', `on.pull_request.types: '${event.action}' is not one of ${list(trigger.types)}`);
      if (trigger.branches && !matchesFilter(pr.baseRef, trigger.branches)) {
        return no('on.pull_request', `on.pull_request.branches: base '${pr.baseRef}' matches none of ${list(trigger.branches)}`);
      }
      const paths = await pathFilter('on.pull_request', trigger.paths, trigger.pathsIgnore, ctx);
      if (paths && typeof paths === 'object') return paths;
      return { triggered: true, trigger: 'on.pull_request', reason: [`on.pull_request: '${event.action}' into '${pr.baseRef}'`, paths].filter(Boolean).join('; ') };
    }
    case 'manual':
      return p.on.manual ? { triggered: true, trigger: 'on.manual', reason: 'on.manual' } : no(null, 'on.manual: not a trigger of this pipeline');
    case 'schedule':
      return p.on.schedule ? { triggered: true, trigger: 'on.schedule', reason: 'on.schedule' } : no(null, 'on.schedule: not a trigger of this pipeline');
    case 'webhook': {
      const hook = p.on.webhook;
      if (!hook) return no(null, 'on.webhook: not a trigger of this pipeline');
      if (hook.sources && !hook.sources.includes(event.source ?? '')) return no('on.webhook', `on.webhook.sources: '${event.source}' is not one of ${list(hook.sources)}`);
      if (hook.types && !matchesFilter(event.type ?? '', hook.types)) return no('on.webhook', `on.webhook.types: '${event.type}' matches none of ${list(hook.types)}`);
      return { triggered: true, trigger: 'on.webhook', reason: `on.webhook: '${event.source}' '${event.type}'` };
    }
    default:
      return no(null, `${event.kind} events start no run`);
  }
}

/**
 * Whether a pipeline runs for an event, and the filter that decided: the
 * trigger keys, then [skip ci], then the pipeline's `if`.
 */
export async function matchPipeline(p: Pipeline, event: ForgeEvent, ctx: MatchContext): Promise<MatchResult> {
  if (event.deleted || event.sha === null) return no(null, 'deletions start no run');
  const result = await matchTrigger(p, event, ctx);
  if (!result.triggered) return result;
  if (event.kind === 'push' || event.kind === 'pull_request') {
    const message = await ctx.commitMessage();
    const skip = message && SKIP.exec(message);
    if (skip) return no(result.trigger, `${skip[0]} in the head commit's message`);
  }
  if (p.if) {
    try {
      if (!evaluateCondition(p.if, { event, payload: ctx.payload ?? null })) return no(result.trigger, `if: ${p.if} is false`);
    } catch (err) {
      return { triggered: false, trigger: result.trigger, reason: `if: ${(err as Error).message}`, error: `if: ${(err as Error).message}` };
    }
  }
  return result;
}

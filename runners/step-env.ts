import type { ForgeEvent } from '../providers/types.ts';

export interface StepContext {
  event: ForgeEvent;
  runId: number;
  runUrl: string;
  attempt: number;
  stage: string;
  environment: string | null;
  /** A manual run's inputs, given as FORGELINE_INPUT_<NAME>. */
  inputs?: Record<string, string>;
  /** A matrix instance's values, given as FORGELINE_MATRIX_<AXIS>. */
  matrix?: Record<string, string>;
}

const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The clean environment of docs/pipelines.md, "What a step gets". Event data reaches steps only
 * through these variables; nothing of the worker's own environment does.
 */
export function stepEnvironment(ctx: StepContext, home: string): Record<string, string> {
  const e = ctx.event;
  const vars: Record<string, string | number | null | undefined> = {
    // PATH and LANG are the host's: they say where tools are, not secrets.
    PATH: process.env.PATH ?? HOST_PATH,
    HOME: home,
    LANG: process.env.LANG ?? 'C.UTF-8',
    CI: 'true',
    FORGELINE_FORGE: e.forge,
    FORGELINE_REPO: e.repo.name,
    FORGELINE_EVENT: e.kind,
    FORGELINE_REF: e.ref,
    FORGELINE_BRANCH: e.branch,
    FORGELINE_TAG: e.tag,
    FORGELINE_SHA: e.sha,
    FORGELINE_BEFORE: e.before,
    FORGELINE_COMMIT_MESSAGE: e.message,
    FORGELINE_PR_NUMBER: e.pullRequest?.number,
    FORGELINE_PR_HEAD_REF: e.pullRequest?.headRef,
    FORGELINE_PR_BASE_REF: e.pullRequest?.baseRef,
    FORGELINE_RUN_ID: ctx.runId,
    FORGELINE_RUN_URL: ctx.runUrl,
    FORGELINE_ATTEMPT: ctx.attempt,
    FORGELINE_STAGE: ctx.stage,
    FORGELINE_ENVIRONMENT: ctx.environment,
  };
  for (const [name, value] of Object.entries(ctx.inputs ?? {})) vars[`FORGELINE_INPUT_${name.toUpperCase()}`] = value;
  for (const [axis, value] of Object.entries(ctx.matrix ?? {})) vars[`FORGELINE_MATRIX_${axis.toUpperCase()}`] = value;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) env[k] = v === null || v === undefined ? '' : String(v);
  return env;
}

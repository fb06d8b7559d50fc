import type { Repo } from '../store/index.ts';
import { ago, esc, statusBadge, took } from './ui-html.ts';
import { stageGraph } from './ui-graph.ts';
import type { runView } from './views.ts';

export type RunView = NonNullable<Awaited<ReturnType<typeof runView>>>;
type Stage = RunView['stages'][number];

const FINAL = new Set(['success', 'failure', 'canceled', 'skipped']);

export interface RunPageContext {
  repo: Repo | null;
  commitUrl: string | null;
  /** The approvers each waiting deployment's environment names (null: any token with the approve role). */
  approvers: Map<string, string[] | null>;
  can: (role: 'write' | 'approve') => boolean;
}

/** Where a stage's section is: `#stage-<position>` (names of matrix instances hold spaces). */
export const stageAnchor = (run: RunView, name: string) => `stage-${run.stages.findIndex((s) => s.name === name)}`;

/** What a waiting stage waits for, in words that say what would let it go. */
function waitingText(s: Stage, approvers: string[] | null | undefined): string {
  if (s.waitingFor === 'approval' || s.waitingFor === 'fork') {
    return `${esc(s.reason ?? 'waiting for approval')}${approvers?.length ? ` (approvers: ${esc(approvers.join(', '))})` : ''}`;
  }
  return esc(s.reason ?? 'waiting');
}

function stageCard(run: RunView, s: Stage, ctx: RunPageContext): string {
  const anchor = stageAnchor(run, s.name);
  const path = `/api/runs/${run.id}/stages/${encodeURIComponent(s.name)}`;
  const approve = s.status === 'waiting' && (s.waitingFor === 'approval' || s.waitingFor === 'fork') && ctx.can('approve')
    ? ` <button class="primary" data-post="${esc(path)}/approve">Approve</button>` : '';
  const rerun = FINAL.has(run.status) && ctx.can('write') ? ` <button data-post="${esc(path)}/rerun" title="run ${esc(s.name)} and the stages that need it again">Rerun stage</button>` : '';
  const detail = s.status === 'waiting' ? `<div class="why waiting-for">${waitingText(s, ctx.approvers.get(s.name))}</div>`
    : s.reason ? `<div class="why">${esc(s.reason)}</div>` : '';
  const times = s.startedAt ? `<div class="muted">started ${ago(s.startedAt)} · ${took(s.startedAt, s.finishedAt)}</div>` : '';
  return `<div class="stage-card" data-card="${esc(s.name)}"><a href="#${anchor}"><strong>${esc(s.name)}</strong></a> ${statusBadge(s.status, ` data-stage-status="${esc(s.name)}"`)}
<div class="muted">attempt ${s.attempt}${s.needs.length ? ` · needs ${esc(s.needs.join(', '))}` : ''}${s.environment ? ` · deploys to ${esc(s.environment)}` : ''}</div>
${detail}${times}${approve || rerun ? `<div>${approve}${rerun}</div>` : ''}</div>`;
}

/** A stage's log: its attempts to choose from, the raw download, a search box, and the log itself (ui/log.js renders it). */
function logSection(run: RunView, s: Stage): string {
  const anchor = stageAnchor(run, s.name);
  const src = `/api/runs/${run.id}/stages/${encodeURIComponent(s.name)}/log`;
  const attempts = s.attempts.length > 1
    ? `<span class="attempts">${s.attempts.map((a) => `<button class="attempt${a.attempt === s.attempt ? ' current' : ''}" data-attempt="${a.attempt}" aria-pressed="${a.attempt === s.attempt}" title="${esc(a.status)}${a.reason ? `: ${esc(a.reason)}` : ''}">attempt ${a.attempt}</button>`).join('')}</span>` : '';
  const stepsOf = Object.fromEntries(s.attempts.map((a) => [a.attempt, a.steps ?? null]));
  return `<section class="stage-log" id="${anchor}" data-stage="${esc(s.name)}" data-position="${run.stages.indexOf(s)}" data-attempt-shown="${s.attempt}">
<h3>${esc(s.name)} ${statusBadge(s.status)} ${attempts}
<a class="muted" href="${esc(src)}" download="${esc(`run-${run.id}-${s.name}.log`)}">raw log</a>
<input type="search" class="log-search" placeholder="search the log" aria-label="search ${esc(s.name)}'s log"> <span class="search-result muted"></span></h3>
<div class="log" data-src="${esc(src)}" data-live="${FINAL.has(s.status) || s.status === 'queued' || s.status === 'waiting' ? 'false' : 'true'}" data-status="${esc(s.status)}"
 data-steps="${esc(JSON.stringify(stepsOf))}" data-attempt="${s.attempt}" role="log"></div></section>`;
}

/** `/runs/<id>`: what the run is, where it stands (graph, cards), what can be done, and its logs. */
export function runPage(run: RunView, ctx: RunPageContext): { title: string; heading: string; body: string } {
  const e = run.event;
  const commit = ctx.commitUrl ? `<a href="${esc(ctx.commitUrl)}"><code title="${esc(run.sha)}">${esc(run.sha.slice(0, 7))}</code></a>` : `<code title="${esc(run.sha)}">${esc(run.sha.slice(0, 7))}</code>`;
  const ref = e.pullRequest ? `pull request #${esc(e.pullRequest.number)} ${esc(e.pullRequest.title)} (${esc(e.pullRequest.headRef)} → ${esc(e.pullRequest.baseRef)}${e.pullRequest.fromFork ? ', from a fork' : ''})`
    : e.branch ? `branch <code>${esc(e.branch)}</code>` : e.tag ? `tag <code>${esc(e.tag)}</code>` : '';
  const waiting = run.stages.filter((s) => s.status === 'waiting');
  const canCancel = !FINAL.has(run.status) && ctx.can('write');
  const failed = run.stages.some((s) => s.status === 'failure' || s.status === 'canceled');
  const actions = [
    canCancel ? `<button class="danger" data-post="/api/runs/${run.id}/cancel" data-confirm="Cancel run #${run.id}? Its running steps are killed.">Cancel run</button>` : '',
    FINAL.has(run.status) && ctx.can('write') ? `<button data-post="/api/runs/${run.id}/rerun">Rerun all</button>` : '',
    FINAL.has(run.status) && failed && ctx.can('write') ? `<button data-post="/api/runs/${run.id}/rerun?failed=true">Rerun failed stages</button>` : '',
  ].filter(Boolean).join(' ');
  const pipelineLink = ctx.repo ? `<a href="/repos/${esc(ctx.repo.id)}/pipelines/${esc(encodeURIComponent(run.pipeline))}">${esc(run.pipeline)}</a>` : esc(run.pipeline);
  const summary = `<p class="summary">${statusBadge(run.status, ' data-run-status')}
${waiting.length ? `<span class="waiting-for">${waiting.map((s) => `${esc(s.name)}: ${waitingText(s, ctx.approvers.get(s.name))}`).join('; ')}</span>` : esc(run.reason ?? '')}</p>
<p>${esc(e.kind)}${e.action ? ` (${esc(e.action)})` : ''} on <strong>${esc(ctx.repo?.name ?? run.repo)}</strong> ${ref} at ${commit}${run.triggeredBy ? ` by ${esc(run.triggeredBy)}` : ''}${run.message ? ` — ${esc(run.message)}` : ''}</p>
<p class="muted">created ${ago(run.createdAt)}${run.startedAt ? ` · ${run.finishedAt ? 'took' : 'elapsed'} ${took(run.startedAt, run.finishedAt)}` : ''} · attempt ${run.attempt} · ${esc(run.file)}${run.delivery ? ` · <a href="/deliveries/${esc(run.delivery)}">delivery</a>` : ''}</p>`;
  const body = `${summary}
${actions ? `<p class="actions">${actions}</p>` : ''}
${run.problems.length ? `<pre class="json">${esc(run.problems.join('\n'))}</pre>` : ''}
${run.pipelineDiff ? `<h2>Changes to .forgeline/ (read before approving)</h2><pre class="json">${esc(run.pipelineDiff)}</pre>` : ''}
${run.stages.length ? `<div class="graph-box">${stageGraph(run.stages, (name) => `#${stageAnchor(run, name)}`)}</div>` : ''}
<div class="stages">${run.stages.map((s) => stageCard(run, s, ctx)).join('')}</div>
${run.stages.map((s) => logSection(run, s)).join('')}`;
  return {
    title: `Run #${run.id} · ${run.pipeline} · ${run.status}`,
    heading: `Run #${run.id} · ${pipelineLink}`,
    body,
  };
}

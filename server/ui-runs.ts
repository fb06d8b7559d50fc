import type { Repo } from '../store/index.ts';
import { ago, esc, STATUS_ICON, statusBadge, took } from './ui-html.ts';
import type { runList } from './views.ts';

type RunItem = Awaited<ReturnType<typeof runList>>['items'][number];

/** What a run was built from, as people say it: the branch, the tag, or the pull request. */
function refOf(r: RunItem): string {
  if (r.pullRequest !== null) return `PR #${r.pullRequest}${r.branch ? ` <code>${esc(r.branch)}</code>` : ''}`;
  if (r.tag) return `tag <code>${esc(r.tag)}</code>`;
  return r.branch ? `<code>${esc(r.branch)}</code>` : '';
}

/** The runs list's rows (the page, and the live refresh of ui/app.js, render the same). */
export function runRows(items: RunItem[], repos: Map<string, Repo>): string {
  if (!items.length) return '<tr><td colspan="7" class="muted">No runs.</td></tr>';
  return items.map((r) => {
    const repo = repos.get(r.repo);
    return `<tr data-run="${r.id}" data-status="${esc(r.status)}">
<td class="status-cell ${esc(r.status)}" title="${esc(r.status)}"><span class="icon" aria-label="${esc(r.status)}">${STATUS_ICON[r.status] ?? '?'}</span></td>
<td><a href="/runs/${r.id}">#${r.id}</a> ${repo ? `<a href="/repos/${esc(repo.id)}/pipelines/${esc(encodeURIComponent(r.pipeline))}">${esc(r.pipeline)}</a>` : esc(r.pipeline)}
<div class="muted">${esc(repo?.name ?? r.repo)}</div></td>
<td><code class="sha" title="${esc(r.sha)}">${esc(r.sha.slice(0, 7))}</code> <span class="message">${esc(r.message ?? '')}</span></td>
<td>${refOf(r)}</td><td>${esc(r.event)}</td><td>${esc(r.triggeredBy ?? '')}</td>
<td>${r.startedAt ? took(r.startedAt, r.finishedAt) : statusBadge(r.status)}<div class="muted">${ago(r.createdAt)}</div></td></tr>`;
  }).join('');
}

export const RUNS_HEAD = '<tr><th><span class="visually-hidden">Status</span></th><th>Run</th><th>Commit</th><th>Branch</th><th>Event</th><th>By</th><th>Duration</th></tr>';

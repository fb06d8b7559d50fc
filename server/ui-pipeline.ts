import type { ManualInput } from '../pipelines/index.ts';
import type { Repo } from '../store/index.ts';
import { ago, esc, formatDuration, statusBadge } from './ui-html.ts';
import type { runList } from './views.ts';

type RunItem = Awaited<ReturnType<typeof runList>>['items'][number];

const COLOUR: Record<string, string> = { success: '#1a7f37', failure: '#cf222e', canceled: '#8c959f', skipped: '#d0d7de', running: '#0969da', waiting: '#9a6700', queued: '#9a6700' };

/** The last runs' durations as bars, oldest on the left, each a link to its run. */
export function durationChart(items: RunItem[]): string {
  const runs = [...items].reverse();
  const max = Math.max(1, ...runs.map((r) => r.durationMs ?? 0));
  const [W, H, BAR] = [Math.max(runs.length, 1) * 14 + 40, 140, 10];
  const bars = runs.map((r, i) => {
    const h = r.durationMs === null ? 3 : Math.max(3, Math.round((r.durationMs / max) * (H - 30)));
    return `<a href="/runs/${r.id}"><rect class="bar" data-run="${r.id}" data-status="${esc(r.status)}" x="${36 + i * 14}" y="${H - 16 - h}" width="${BAR}" height="${h}" fill="${COLOUR[r.status] ?? '#8c959f'}">`
      + `<title>#${r.id} ${esc(r.status)}${r.durationMs === null ? '' : ` · ${formatDuration(r.durationMs)}`}</title></rect></a>`;
  }).join('');
  return `<svg class="chart" role="img" aria-label="durations of the last ${runs.length} runs" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg">
<text x="0" y="12" class="axis">${esc(formatDuration(max))}</text><line x1="34" y1="${H - 16}" x2="${W}" y2="${H - 16}" class="axis-line"/>
<text x="36" y="${H - 2}" class="axis">older</text><text x="${W - 40}" y="${H - 2}" class="axis">newer</text>${bars}</svg>`;
}

/** A form for `on.manual`: one field per input, posted to /api/trigger by ui/app.js. */
function triggerForm(repo: Repo, pipeline: string, inputs: Record<string, ManualInput>, branch: string): string {
  const field = ([name, input]: [string, ManualInput]) => {
    const label = `<span>${esc(name)}${input.required ? ' *' : ''}</span>${input.description ? ` <span class="muted">${esc(input.description)}</span>` : ''}`;
    if (input.type === 'boolean') return `<label><input type="checkbox" name="${esc(name)}" data-input${input.default === true ? ' checked' : ''}> ${label}</label>`;
    if (input.type === 'choice') {
      return `<label>${label} <select name="${esc(name)}" data-input${input.required ? ' required' : ''}>${input.required ? '' : '<option value=""></option>'}${(input.options ?? []).map((o) => `<option${o === input.default ? ' selected' : ''}>${esc(o)}</option>`).join('')}</select></label>`;
    }
    return `<label>${label} <input name="${esc(name)}" data-input value="${esc(typeof input.default === 'string' ? input.default : '')}"${input.required ? ' required' : ''}></label>`;
  };
  return `<form class="trigger" data-trigger data-repo="${esc(repo.name)}" data-pipeline="${esc(pipeline)}">
<label><span>branch or tag *</span> <input name="ref" value="${esc(branch)}" required></label>${Object.entries(inputs).map(field).join('')}
<button class="primary">Run ${esc(pipeline)}</button></form>`;
}

/** `/repos/<id>/pipelines/<name>`: how the pipeline has been doing, branch by branch. */
export function pipelinePage(repo: Repo, pipeline: string, recent: RunItem[], perBranch: Array<{ id: number; branch: string; status: string; sha: string; createdAt: Date }>,
  manual: Record<string, ManualInput> | null, canTrigger: boolean): string {
  const final = recent.filter((r) => ['success', 'failure', 'canceled'].includes(r.status));
  const rate = final.length ? Math.round((100 * final.filter((r) => r.status === 'success').length) / final.length) : null;
  const durations = recent.map((r) => r.durationMs).filter((d): d is number => d !== null).sort((a, b) => a - b);
  const median = durations.length ? durations[Math.floor(durations.length / 2)]! : null;
  const badge = `/badge/${repo.name.split('/').map(encodeURIComponent).join('/')}/${encodeURIComponent(pipeline)}.svg`;
  return `<p class="summary"><strong class="rate">${rate === null ? 'no finished runs yet' : `${rate}% successful`}</strong>
<span class="muted">over the last ${final.length} finished run(s)${median === null ? '' : ` · median ${formatDuration(median)}`}</span>
<img src="${esc(badge)}" alt="${esc(pipeline)} badge"> <code class="muted">${esc(badge)}</code></p>
<h2>Last ${recent.length} runs</h2>${recent.length ? durationChart(recent) : '<p class="muted">No runs yet.</p>'}
<h2>Newest run per branch</h2>${perBranch.length ? `<table><thead><tr><th>Branch</th><th>Run</th><th>Status</th><th>Commit</th><th>When</th></tr></thead><tbody>
${perBranch.map((b) => `<tr><td><code>${esc(b.branch)}</code></td><td><a href="/runs/${b.id}">#${b.id}</a></td><td>${statusBadge(b.status)}</td><td><code>${esc(b.sha.slice(0, 7))}</code></td><td>${ago(b.createdAt)}</td></tr>`).join('')}</tbody></table>` : '<p class="muted">No branch runs yet.</p>'}
${manual && canTrigger ? `<h2>Run it by hand</h2>${triggerForm(repo, pipeline, manual, repo.defaultBranch ?? 'main')}` : ''}
<p><a href="/?repo=${esc(encodeURIComponent(repo.name))}">All runs of ${esc(repo.name)} →</a></p>`;
}

// Forgeline's pages: buttons that call the API with the page's CSRF token
// (asking first where they say so), times that stay current, and pages that
// follow what they show (a run's stages, the runs list) without a reload by hand.
const csrf = document.querySelector('meta[name="csrf"]')?.content ?? '';

async function act(button) {
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  button.disabled = true;
  // data-method="DELETE" for removals; POST otherwise.
  const method = button.dataset.method ?? 'POST';
  const res = await fetch(button.dataset.post, { method, headers: { 'x-forgeline-csrf': csrf, 'content-type': 'application/json' }, body: method === 'DELETE' ? undefined : '{}' });
  const out = document.getElementById('action-result');
  const text = await res.text();
  if (out) out.textContent = res.ok ? `done: ${text}` : `refused (${res.status}): ${text}`;
  if (res.ok && button.dataset.reload !== 'false') setTimeout(() => location.reload(), 300);
  else button.disabled = false;
}
document.addEventListener('click', (e) => {
  const button = e.target.closest('button[data-post]');
  if (button) act(button);
});

// As server/ui-html.ts writes them, so a time the page counts reads like the one it was served with.
function formatDuration(ms) {
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}
function formatAgo(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} day${s < 172800 ? '' : 's'} ago`;
}
/** "2 min ago" stays true, and a running stage's elapsed time counts. */
function tick() {
  const now = Date.now();
  for (const t of document.querySelectorAll('time.ago')) t.textContent = formatAgo(now - Date.parse(t.dateTime));
  for (const d of document.querySelectorAll('.elapsed[data-since]')) d.textContent = formatDuration(now - Date.parse(d.dataset.since));
}
setInterval(tick, 1000);

// A run's page follows its stages: when one changes state, the page shows the new state.
const runStatus = document.querySelector('[data-run-status]');
const runId = /^\/runs\/(\d+)$/.exec(location.pathname)?.[1];
if (runStatus && runId) {
  const shown = () => [...document.querySelectorAll('[data-stage-status]')].map((s) => `${s.dataset.stageStatus}=${[...s.classList].find((c) => c !== 'status')}`).join(',');
  const before = shown();
  const poll = setInterval(async () => {
    const res = await fetch(`/api/runs/${runId}`).catch(() => null);
    if (!res?.ok) return;
    const run = await res.json();
    const now = run.stages.map((s) => `${s.name}=${s.status}`).join(',');
    if (now !== before) { clearInterval(poll); location.reload(); }
  }, 2000);
}

// The runs list follows new runs and state changes (server-sent events), keeping its filters.
const rows = document.querySelector('tbody[data-live-rows]');
if (rows) {
  const events = new EventSource(`/ui/runs/live${location.search}`);
  events.addEventListener('changed', async () => {
    const res = await fetch(`/ui/runs/rows${location.search}`);
    if (res.ok) { rows.innerHTML = await res.text(); tick(); }
  });
}

// The pipeline page's form for a manual run: its inputs posted as /api/trigger takes them.
for (const form of document.querySelectorAll('form[data-trigger]')) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const inputs = {};
    for (const field of form.querySelectorAll('[data-input]')) {
      if (field.type === 'checkbox') inputs[field.name] = field.checked ? 'true' : 'false';
      else if (field.value !== '') inputs[field.name] = field.value;
    }
    const body = { repo: form.dataset.repo, pipeline: form.dataset.pipeline, ref: form.elements.ref.value, inputs };
    const res = await fetch('/api/trigger', { method: 'POST', headers: { 'x-forgeline-csrf': csrf, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = await res.json().catch(() => ({}));
    const out = document.getElementById('action-result');
    if (out) out.textContent = res.ok ? `started: runs ${answer.runs?.join(', ') || 'none yet (planning)'}` : `refused (${res.status}): ${answer.error ?? ''}`;
    if (res.ok && answer.runs?.length) location.href = `/runs/${answer.runs[0]}`;
  });
}

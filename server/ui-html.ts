/** HTML-escapes text put into a page. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** One icon per state, the same in the runs list, the graph and the favicon. */
export const STATUS_ICON: Record<string, string> = {
  success: '✓', failure: '✗', canceled: '⊘', skipped: '↷', running: '●', queued: '○', waiting: '◷',
};

export function statusBadge(status: string, attrs = ''): string {
  return `<span class="status ${esc(status)}"${attrs}><span class="icon" aria-hidden="true">${STATUS_ICON[status] ?? '?'}</span> ${esc(status)}</span>`;
}

/** An absolute time, as the UTC clock shows it. */
export function when(date: Date | string | null): string {
  return date ? `<time datetime="${esc(new Date(date).toISOString())}">${esc(new Date(date).toISOString().replace('T', ' ').slice(0, 19))} UTC</time>` : '';
}

/** `0.4 s`, `12.3 s`, `3m 4s`, `1h 2m`: how long something took. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** `just now`, `12 s ago`, `2 min ago`, `3 h ago`, `4 days ago`. */
export function formatAgo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} day${s < 172_800 ? '' : 's'} ago`;
}

/** A relative time ("2 min ago") with the clock time in `datetime` and `title`; app.js keeps it current. */
export function ago(date: Date | string | null): string {
  if (!date) return '';
  const iso = new Date(date).toISOString();
  return `<time class="ago" datetime="${esc(iso)}" title="${esc(iso.replace('T', ' ').slice(0, 19))} UTC">${formatAgo(Date.now() - Date.parse(iso))}</time>`;
}

/** How long a stage or run took; for one still going, its elapsed time, counted live by app.js. */
export function took(startedAt: Date | string | null, finishedAt: Date | string | null): string {
  if (!startedAt) return '';
  if (finishedAt) return `<span class="duration" title="took">${formatDuration(new Date(finishedAt).getTime() - new Date(startedAt).getTime())}</span>`;
  const iso = new Date(startedAt).toISOString();
  return `<span class="duration elapsed" data-since="${esc(iso)}" title="elapsed">${formatDuration(Date.now() - Date.parse(iso))}</span>`;
}

/** 1.5 MiB, 312 KiB, 10 GiB: sizes as people read them. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} bytes` : `${n < 10 ? n.toFixed(1).replace(/\.0$/, '') : Math.round(n)} ${units[unit]}`;
}

export interface PageUser {
  name: string;
  role: string;
  csrf: string;
}

/** A page. `opts.state` tints the favicon with a run's state; `opts.heading` replaces the title as the page's h1. */
export function layout(title: string, body: string, user: PageUser | null, opts: { state?: string; heading?: string } = {}): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf" content="${esc(user?.csrf ?? '')}">
<title>${esc(title)} · Forgeline</title><link rel="stylesheet" href="/ui/style.css">
<link rel="icon" type="image/svg+xml" href="/favicon.svg${opts.state ? `?state=${esc(opts.state)}` : ''}"></head>
<body><header><strong><a href="/">Forgeline</a></strong><a href="/">Runs</a><a href="/deliveries">Deliveries</a><a href="/repos">Repositories</a>
<span class="who">${user ? `${esc(user.name)} (${esc(user.role)}) · <a href="/logout">log out</a>` : '<a href="/login">log in</a>'}</span></header>
<main><h1>${opts.heading ?? esc(title)}</h1><p id="action-result" class="muted"></p>${body}</main>
<script src="/ui/app.js" defer></script><script src="/ui/log.js" defer></script></body></html>`;
}

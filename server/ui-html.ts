/** HTML-escapes text put into a page. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function statusBadge(status: string, attrs = ''): string {
  return `<span class="status ${esc(status)}"${attrs}>${esc(status)}</span>`;
}

export function when(date: Date | string | null): string {
  return date ? `<time datetime="${esc(new Date(date).toISOString())}">${esc(new Date(date).toISOString().replace('T', ' ').slice(0, 19))}</time>` : '';
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

export function layout(title: string, body: string, user: PageUser | null): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf" content="${esc(user?.csrf ?? '')}">
<title>${esc(title)} · Forgeline</title><link rel="stylesheet" href="/ui/style.css"></head>
<body><header><strong><a href="/">Forgeline</a></strong><a href="/">Runs</a><a href="/deliveries">Deliveries</a><a href="/repos">Repositories</a>
<span class="who">${user ? `${esc(user.name)} (${esc(user.role)}) · <a href="/logout">log out</a>` : '<a href="/login">log in</a>'}</span></header>
<main><h1>${esc(title)}</h1><p id="action-result" class="muted"></p>${body}</main>
<script src="/ui/app.js" defer></script></body></html>`;
}

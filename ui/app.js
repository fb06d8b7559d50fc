// Forgeline's pages: buttons that call the API with the page's CSRF token,
// and stage logs that follow a running stage live (server-sent events),
// rendered incrementally so a 100,000-line log does not freeze the tab.
const csrf = document.querySelector('meta[name="csrf"]')?.content ?? '';

async function act(button) {
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

const ANSI = /\u001b\[([0-9;]*)m/g;
function escapeHtml(s) { return s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]); }
/** ANSI SGR colours to spans; anything else is shown as text. */
function ansiToHtml(text) {
  let html = '';
  let open = 0;
  let last = 0;
  for (const m of text.matchAll(ANSI)) {
    html += escapeHtml(text.slice(last, m.index));
    last = m.index + m[0].length;
    for (const code of (m[1] || '0').split(';')) {
      if (code === '0' || code === '') { html += '</span>'.repeat(open); open = 0; }
      else if (code === '1') { html += '<span class="ansi-bold">'; open++; }
      else if (/^(3[0-7]|9[0-7])$/.test(code)) { html += `<span class="ansi-${code}">`; open++; }
    }
  }
  return html + escapeHtml(text.slice(last)) + '</span>'.repeat(open);
}

/** Appends text to a log in slices of lines per frame: large logs stay responsive. */
function appender(pre) {
  let queue = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const slice = queue.splice(0, 2000);
    const follow = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
    pre.insertAdjacentHTML('beforeend', ansiToHtml(slice.join('')));
    if (follow) pre.scrollTop = pre.scrollHeight;
    if (queue.length) { scheduled = true; requestAnimationFrame(flush); }
  };
  return (text) => {
    for (const line of text.split(/(?<=\n)/)) queue.push(line);
    if (!scheduled) { scheduled = true; requestAnimationFrame(flush); }
  };
}

for (const pre of document.querySelectorAll('pre.log[data-src]')) {
  const append = appender(pre);
  const source = new EventSource(pre.dataset.src);
  source.addEventListener('log', (e) => append(JSON.parse(e.data)));
  source.addEventListener('end', (e) => {
    source.close();
    pre.dataset.ended = JSON.parse(e.data);
    const status = document.querySelector(`[data-stage-status="${pre.dataset.stage}"]`);
    if (status && status.textContent !== pre.dataset.ended) setTimeout(() => location.reload(), 500);
  });
}

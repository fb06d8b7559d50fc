// Stage logs on the run page: one foldable section per step (its name, exit
// code and duration), ANSI colours, line numbers that are links, search,
// earlier attempts, and live follow of a running stage. Lines are appended a
// slice per frame, so a 100,000-line log never freezes the tab. Loaded after
// app.js, whose formatDuration it uses.

const ANSI = /\u001b\[([0-9;]*)m/g;
function escapeHtml(s) { return s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]); }
/** ANSI SGR colours to spans, within one line; anything else is shown as text. */
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

/** The line a location hash names (`#s2-L40`), opened, scrolled to and marked; true once found. */
function showHashedLine() {
  const m = /^#(s\d+-L\d+)$/.exec(location.hash);
  if (!m) return true;
  const line = document.getElementById(m[1]);
  if (!line) return false;
  const section = line.closest('details');
  if (section) section.open = true;
  document.querySelectorAll('.ln.hl').forEach((l) => l.classList.remove('hl'));
  line.classList.add('hl');
  line.scrollIntoView({ block: 'center' });
  return true;
}
let hashPending = !showHashedLine();
window.addEventListener('hashchange', () => { hashPending = !showHashedLine(); });

class LogView {
  constructor(section) {
    this.section = section;
    this.box = section.querySelector('.log');
    this.position = section.dataset.position;
    this.stepsByAttempt = JSON.parse(this.box.dataset.steps || '{}');
    this.load(Number(this.box.dataset.attempt), this.box.dataset.live === 'true');
  }

  /** Shows an attempt's log: followed live while its stage runs, else read once. */
  load(attempt, live) {
    this.source?.close();
    this.box.replaceChildren();
    this.attempt = attempt;
    this.steps = this.stepsByAttempt[attempt] || null;
    this.lineNo = 0;
    this.stepIndex = -1;
    this.body = null;
    this.partial = '';
    this.queue = [];
    this.ended = false;
    this.section.dataset.attemptShown = String(attempt);
    for (const b of this.section.querySelectorAll('button[data-attempt]')) b.setAttribute('aria-pressed', String(Number(b.dataset.attempt) === attempt));
    const src = this.box.dataset.src + (live ? '' : `?attempt=${attempt}`);
    if (live) {
      this.source = new EventSource(src);
      this.source.addEventListener('log', (e) => this.append(JSON.parse(e.data)));
      this.source.addEventListener('end', (e) => {
        this.source.close();
        this.finish();
        const status = document.querySelector(`[data-stage-status="${CSS.escape(this.section.dataset.stage)}"]`);
        // The stage ended while the page showed it running: the page shows its end.
        if (status && !status.classList.contains(JSON.parse(e.data))) setTimeout(() => location.reload(), 500);
      });
    } else {
      fetch(src).then((r) => (r.ok ? r.text() : '')).then((text) => { this.append(text); this.finish(); });
    }
  }

  append(text) {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop();
    for (const line of lines) this.queue.push(line);
    this.schedule();
  }

  finish() {
    if (this.partial) this.queue.push(this.partial);
    this.partial = '';
    this.ended = true;
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.flush());
  }

  /** A section for the next step (a `▶ name` line starts one); lines before the first go in a setup section. */
  newSection(title) {
    const details = document.createElement('details');
    const summary = document.createElement('summary');
    if (title === null) {
      summary.textContent = 'set up';
      details.className = 'setup';
    } else {
      this.stepIndex++;
      const step = this.steps?.[this.stepIndex];
      details.dataset.step = String(this.stepIndex);
      const outcome = step ? ` <span class="step-meta">${step.exitCode === null ? step.status : `exit ${step.exitCode}`} · ${formatDuration(Date.parse(step.finishedAt) - Date.parse(step.startedAt))}</span>` : '';
      summary.innerHTML = `<span class="step-name">${escapeHtml(title)}</span>${outcome}`;
      if (step) details.classList.add(step.status);
      // A step that failed is open; one that passed is folded; the step running now is open.
      details.open = step ? step.status !== 'success' : true;
      if (!step) this.box.querySelectorAll('details[open]:not(.failure)').forEach((d) => { d.open = false; });
    }
    details.append(summary);
    this.box.append(details);
    this.body = details;
    return details;
  }

  flush() {
    this.scheduled = false;
    const follow = this.box.scrollTop + this.box.clientHeight >= this.box.scrollHeight - 20;
    let html = '';
    const emit = () => { if (html) { this.body.insertAdjacentHTML('beforeend', html); html = ''; } };
    for (const line of this.queue.splice(0, 2000)) {
      this.lineNo++;
      if (line.startsWith('▶ ')) {
        emit();
        this.newSection(line.slice(2));
      } else if (!this.body) {
        this.newSection(null).open = true;
      }
      const id = `s${this.position}-L${this.lineNo}`;
      // The `▶` line is the section's title: numbered like the raw log, shown once, in the summary.
      html += `<div class="ln${line.startsWith('▶ ') ? ' marker' : ''}" id="${id}"><a href="#${id}" tabindex="-1">${this.lineNo}</a><span>${ansiToHtml(line)}</span></div>`;
    }
    emit();
    if (follow) this.box.scrollTop = this.box.scrollHeight;
    if (hashPending) hashPending = !showHashedLine();
    if (this.queue.length) this.schedule();
    else if (this.ended) {
      this.box.dataset.rendered = String(this.lineNo);
      // A setup that failed (a checkout, an artifact) has no step to open: its own section is.
      if (!this.steps && !this.box.querySelector('details[open]') && this.box.lastElementChild) this.box.lastElementChild.open = true;
    }
  }

  /** The next line holding `text` after the last match, opened and marked. */
  search(text) {
    const result = this.section.querySelector('.search-result');
    if (!text) { result.textContent = ''; return; }
    const needle = text.toLowerCase();
    const lines = [...this.box.querySelectorAll('.ln')].filter((l) => l.lastElementChild.textContent.toLowerCase().includes(needle));
    if (!lines.length) { result.textContent = 'no match'; return; }
    this.match = ((this.match ?? -1) + 1) % lines.length;
    const line = lines[this.match];
    line.closest('details').open = true;
    this.box.querySelectorAll('.ln.found').forEach((l) => l.classList.remove('found'));
    line.classList.add('found');
    line.scrollIntoView({ block: 'center' });
    result.textContent = `${this.match + 1} of ${lines.length}`;
  }
}

for (const section of document.querySelectorAll('section.stage-log')) {
  const view = new LogView(section);
  for (const button of section.querySelectorAll('button[data-attempt]')) {
    button.addEventListener('click', () => view.load(Number(button.dataset.attempt), false));
  }
  const input = section.querySelector('.log-search');
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); view.search(input.value); } });
  input.addEventListener('input', () => { view.match = undefined; });
}

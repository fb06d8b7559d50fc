/**
 * Streaming secret masking for step logs (docs/pipelines.md, "What a step gets").
 *
 * The patterns are the secret values and the forms a step commonly turns
 * them into (base64 at every alignment, URL encoding, single lines of a
 * multi-line value). Matching is an Aho-Corasick automaton over UTF-16 code
 * units rather than one alternation RegExp: it finds every occurrence,
 * overlapping ones included, in a single linear pass whatever the number of
 * patterns, and its state says exactly how much of the output's tail could
 * still grow into a match, which is all a streaming masker has to hold back.
 */

export interface SecretMasker {
  /** Feed a chunk of output; answers the text that is now safe to emit (may hold back a tail that could be the start of a secret). */
  write(chunk: string): string;
  /** End of stream: answers the rest, masked. The masker is then ready for a new stream. */
  end(): string;
}

/** Derived forms this short match too much unrelated text to be worth masking. */
const MIN_DERIVED = 4;

/**
 * Everything that is masked for these secrets, longest first, without
 * duplicates. Exported so tests and diagnostics can see what a masker hides.
 */
export function maskingPatterns(secrets: string[]): string[] {
  const patterns = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length === 0) continue;
    // The value itself, however short: a one-character secret is still a secret.
    patterns.add(secret);
    for (const form of derivedForms(secret)) {
      if (form.length >= MIN_DERIVED) patterns.add(form);
    }
  }
  return [...patterns].sort((a, b) => b.length - a.length);
}

function derivedForms(secret: string): string[] {
  const forms: string[] = [];
  const bytes = Buffer.from(secret, 'utf8');
  // Encoded alone: the whole encoding, padded or not, so not even the last
  // character (which carries the secret's final bits) is left behind.
  const alone = bytes.toString('base64');
  forms.push(alone, alone.replace(/=+$/, ''), urlSafe(alone), urlSafe(alone).replace(/=+$/, ''));
  // Inside the base64 of a longer text the secret starts 0, 1 or 2 bytes into
  // a 3-byte group. Only the characters whose 6 bits all come from the secret
  // are fixed; the ones shared with the bytes before or after vary.
  for (let k = 0; k < 3; k++) {
    const encoded = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    const middle = encoded.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6));
    forms.push(middle, urlSafe(middle));
  }
  // Lone surrogates cannot be URL-encoded; such a "secret" simply has no URL form.
  try {
    const component = encodeURIComponent(secret);
    forms.push(component, component.replace(/%20/g, '+'));
    // application/x-www-form-urlencoded as URLSearchParams writes it: also escapes !'()~.
    forms.push(new URLSearchParams([['', secret]]).toString().slice(1));
  } catch {
    // Nothing to add.
  }
  // A step printing one line of a PEM key, or the whole value with CRLF line ends.
  if (/[\r\n]/.test(secret)) {
    for (const line of secret.split(/\r\n|\r|\n/)) forms.push(line);
  }
  return forms.filter((form) => form !== secret);
}

function urlSafe(base64: string): string {
  return base64.replace(/\+/g, '-').replace(/\//g, '_');
}

interface Automaton {
  children: Array<Map<number, number>>;
  fail: Int32Array;
  /** Length of the longest pattern ending at this state (a suffix of its string), 0 if none. */
  match: Int32Array;
  /** Length of the longest suffix of this state's string that some pattern extends: what must be held back here. */
  hold: Int32Array;
}

function buildAutomaton(patterns: string[]): Automaton {
  const children: Array<Map<number, number>> = [new Map()];
  const depth: number[] = [0];
  const terminal: number[] = [0];
  for (const pattern of patterns) {
    let node = 0;
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern.charCodeAt(i);
      let next = children[node]!.get(c);
      if (next === undefined) {
        next = children.length;
        children.push(new Map());
        depth.push(depth[node]! + 1);
        terminal.push(0);
        children[node]!.set(c, next);
      }
      node = next;
    }
    terminal[node] = pattern.length;
  }
  const n = children.length;
  const fail = new Int32Array(n);
  const match = new Int32Array(n);
  const hold = new Int32Array(n);
  hold[0] = 0;
  // Breadth first, so a state's failure state (always shallower) is complete before it.
  const queue: number[] = [];
  for (const child of children[0]!.values()) {
    fail[child] = 0;
    queue.push(child);
  }
  for (let head = 0; head < queue.length; head++) {
    const u = queue[head]!;
    match[u] = Math.max(terminal[u]!, match[fail[u]!]!);
    hold[u] = children[u]!.size > 0 ? depth[u]! : hold[fail[u]!]!;
    for (const [c, v] of children[u]!) {
      let f = fail[u]!;
      while (f !== 0 && !children[f]!.has(c)) f = fail[f]!;
      fail[v] = children[f]!.get(c) ?? 0;
      queue.push(v);
    }
  }
  return { children, fail, match, hold };
}

/**
 * A masker for one output stream. Every occurrence of a pattern (see
 * `maskingPatterns`) is replaced; occurrences that overlap are covered
 * together by one replacement, so a longer overlapping pattern always wins
 * and nothing of either leaks. The concatenated output does not depend on
 * how the stream was chunked.
 */
export function secretMasker(secrets: string[], opts: { replacement?: string } = {}): SecretMasker {
  const replacement = opts.replacement ?? '***';
  const patterns = maskingPatterns(secrets);
  if (patterns.length === 0) return { write: (chunk) => chunk, end: () => '' };
  const { children, fail, match, hold } = buildAutomaton(patterns);
  // The characters a pattern starts with (UTF-16 code units), for the root's fast path.
  const starts0 = new Uint8Array(65_536);
  for (const c of children[0]!.keys()) starts0[c] = 1;
  const startChars = new RegExp(`[${[...children[0]!.keys()].map((c) => `\\u${c.toString(16).padStart(4, '0')}`).join('')}]`, 'g');

  // Positions are absolute offsets in the stream (UTF-16 code units).
  let state = 0;
  /** Everything before this position has been answered. */
  let emitted = 0;
  /** The raw text from `emitted` to the end of what was written. */
  let tail = '';
  /** End of the last region already replaced: text up to here is not shown, and an occurrence starting before it joins that region. */
  let cover = 0;
  /**
   * Regions not yet answered for, as [start, end): disjoint, in order.
   * Occurrences are found in order of their end, so a new one either starts
   * after the last region or overlaps it (and maybe some before it), never
   * one further back alone: merging as they come keeps this sorted.
   */
  let starts: number[] = [];
  let ends: number[] = [];

  function found(start: number, end: number): void {
    let top = starts.length - 1;
    while (top >= 0 && start < ends[top]!) {
      if (starts[top]! < start) start = starts[top]!;
      starts.pop();
      ends.pop();
      top--;
    }
    if (top < 0 && start < cover) cover = end;
    else {
      starts.push(start);
      ends.push(end);
    }
  }

  /** Answers the masked text from `emitted` to `upTo`, where `text` starts at `emitted`. */
  function flush(text: string, upTo: number): string {
    const base = emitted;
    let out = '';
    let shown = base;
    let i = 0;
    // A region starting before `upTo` is certain: an occurrence found later starts at or after `upTo`, and can only make it longer.
    for (; i < starts.length && starts[i]! < upTo; i++) {
      const from = Math.max(shown, cover);
      if (from < starts[i]!) out += text.slice(from - base, starts[i]! - base);
      out += replacement;
      shown = starts[i]!;
      cover = ends[i]!;
    }
    if (i > 0) {
      starts = starts.slice(i);
      ends = ends.slice(i);
    }
    const from = Math.max(shown, cover);
    if (from < upTo) out += text.slice(from - base, upTo - base);
    tail = text.slice(upTo - base);
    emitted = upTo;
    return out;
  }

  return {
    write(chunk: string): string {
      const text = tail + chunk;
      let position = emitted + tail.length;
      let s = state;
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk.charCodeAt(i);
        // Most text starts no pattern: at the root, the engine's own search finds the next character that may.
        if (s === 0 && !starts0[c]) {
          startChars.lastIndex = i;
          const next = startChars.exec(chunk);
          const to = next ? next.index : chunk.length;
          position += to - i;
          i = to - 1;
          continue;
        }
        let next = children[s]!.get(c);
        while (next === undefined && s !== 0) {
          s = fail[s]!;
          next = children[s]!.get(c);
        }
        s = next ?? 0;
        position++;
        // Only the longest occurrence ending here matters: shorter ones lie inside it.
        const length = match[s]!;
        if (length > 0) found(position - length, position);
      }
      state = s;
      // Hold back only the tail that some pattern could still extend.
      return flush(text, position - hold[s]!);
    },
    end(): string {
      const out = flush(tail, emitted + tail.length);
      state = 0;
      emitted = 0;
      cover = 0;
      tail = '';
      return out;
    },
  };
}

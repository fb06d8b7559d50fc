import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskingPatterns, secretMasker } from '../runners/mask.ts';

/** Feeds `chunks` through a fresh masker; answers the concatenated output. */
function feed(secrets: string[], chunks: string[], replacement?: string): string {
  const masker = secretMasker(secrets, replacement === undefined ? {} : { replacement });
  let out = '';
  for (const chunk of chunks) out += masker.write(chunk);
  return out + masker.end();
}

/** `text` cut at the given positions (any order, duplicates allowed: empty chunks are fine too). */
function cut(text: string, at: number[]): string[] {
  const points = at.map((p) => p % (text.length + 1)).sort((a, b) => a - b);
  const chunks: string[] = [];
  let previous = 0;
  for (const p of points) {
    chunks.push(text.slice(previous, p));
    previous = p;
  }
  chunks.push(text.slice(previous));
  return chunks;
}

/**
 * The reference: every occurrence of every pattern, found by brute force,
 * overlapping occurrences merged into one region, each region replaced.
 */
function naiveMask(text: string, patterns: string[], replacement = '***'): string {
  const found: Array<[number, number]> = [];
  for (const p of patterns) {
    for (let i = text.indexOf(p); i !== -1; i = text.indexOf(p, i + 1)) found.push([i, i + p.length]);
  }
  found.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let shown = 0;
  let cover = 0;
  for (const [start, end] of found) {
    if (start >= cover) {
      out += text.slice(Math.max(shown, cover), start) + replacement;
      shown = start;
      cover = end;
    } else {
      cover = Math.max(cover, end);
    }
  }
  return out + text.slice(Math.max(shown, cover));
}

/** The base64 characters of `secret` that depend on nothing else when it starts `k` bytes into a 3-byte group. */
function base64Middle(secret: string, k: number, encoding: 'base64' | 'base64url'): string {
  const bytes = Buffer.from(secret, 'utf8');
  const encoded = Buffer.concat([Buffer.alloc(k, 0x41), bytes]).toString(encoding);
  return encoded.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6));
}

describe('secretMasker: the values themselves', () => {
  it('masks every occurrence', () => {
    expect(feed(['hunter2'], ['pw=hunter2, again hunter2.'])).toBe('pw=***, again ***.');
    expect(feed(['hunter2', 'tok-123'], ['hunter2 tok-123 hunter2tok-123'])).toBe('*** *** ******');
    expect(feed(['hunter2'], ['pw=hunter2'], '[masked]')).toBe('pw=[masked]');
    expect(feed(['hunter2'], ['pw=hunter2'], '')).toBe('pw=');
  });

  it('masks a secret of one character, ignores empty secrets and passes everything through without secrets', () => {
    expect(feed(['x'], ['axbx'])).toBe('a***b***');
    expect(feed(['', ''], ['nothing to hide'])).toBe('nothing to hide');
    expect(feed([], ['a', 'b', ''])).toBe('ab');
    expect(maskingPatterns(['', 'x'])).toContain('x');
    expect(maskingPatterns([''])).toEqual([]);
  });

  it('answers a completed secret at once and holds back only a tail that could still become one', () => {
    const masker = secretMasker(['s3cr3t-value']);
    expect(masker.write('token: s3cr')).toBe('token: ');
    expect(masker.write('3t-val')).toBe('');
    expect(masker.write('ue and more')).toBe('*** and more');
    expect(masker.write(' s3cr3t-valuX')).toBe(' s3cr3t-valuX');
    // Ending exactly on the secret (shorter than its base64, so not the longest pattern): nothing left to wait for.
    expect(masker.write('pw=s3cr3t-value')).toBe('pw=***');
    expect(masker.end()).toBe('');
  });

  it('masks a secret split at every position across 2 and 3 chunks', () => {
    for (const secret of ['s3cr3t-value', 'pässwörd€😀', 'ab']) {
      const text = `before ${secret} middle ${secret}${secret} after`;
      const expected = 'before *** middle ****** after';
      for (let i = 0; i <= text.length; i++) {
        expect(feed([secret], [text.slice(0, i), text.slice(i)])).toBe(expected);
        for (let j = i; j <= text.length; j++) {
          expect(feed([secret], [text.slice(0, i), text.slice(i, j), text.slice(j)])).toBe(expected);
        }
      }
      // One character at a time: every chunk boundary at once.
      expect(feed([secret], [...text.split('')])).toBe(expected);
    }
  });

  it('covers overlapping occurrences together, the longest pattern winning', () => {
    expect(feed(['abcd', 'cdef'], ['xabcdefx'])).toBe('x***x');
    expect(feed(['abc', 'abcdef'], ['abcdef abcdeX'])).toBe('*** ***deX');
    expect(feed(['aaaa'], ['aaaaaaa b aaaa'])).toBe('*** b ***');
    expect(feed(['bc', 'abcd'], ['abcd', 'zbc'])).toBe('***z***');
    // Adjacent occurrences do not overlap: each is replaced.
    expect(feed(['abcd'], ['abcdabcd'])).toBe('******');
  });

  it('can be reused after end()', () => {
    const masker = secretMasker(['hunter2']);
    expect(masker.write('a hunt') + masker.end()).toBe('a hunt');
    expect(masker.write('er2 hunter2') + masker.end()).toBe('er2 ***');
  });
});

describe('secretMasker: derived forms', () => {
  // The first has '+' and '/' in its standard base64, so the URL-safe alphabet differs.
  const secrets = ['\u00fb\u00ff>?~~~s3cret', 'pässwörd€😀x', 'hunter2-hunter2', 'abcd'];

  it('has a secret whose base64 alphabets differ', () => {
    expect(Buffer.from(secrets[0]!, 'utf8').toString('base64')).toMatch(/[+/]/);
  });

  it('masks the base64 of a secret at all three alignments, standard and URL-safe', () => {
    for (const secret of secrets) {
      const n = Buffer.byteLength(secret, 'utf8');
      for (const encoding of ['base64', 'base64url'] as const) {
        // Encoded alone: nothing at all is left, padding included.
        const alone = Buffer.from(secret, 'utf8').toString(encoding);
        expect(feed([secret], [`data: ${alone} end`])).toBe('data: *** end');
        for (const prefix of ['', 'x', 'xx', 'xxx', 'xxxx']) {
          for (const suffix of ['', 'y', 'yy', 'yyy']) {
            const k = prefix.length % 3;
            const encoded = Buffer.from(prefix + secret + suffix, 'utf8').toString(encoding);
            const first = Math.ceil((8 * prefix.length) / 6);
            const last = Math.floor((8 * (prefix.length + n)) / 6);
            const out = feed([secret], [`data: ${encoded} end`]);
            // What is left is at most the characters that depend on the bytes around the secret.
            const shown = /^data: (.*)\*\*\*(.*) end$/.exec(out);
            expect(shown, `${encoding} ${JSON.stringify(prefix)} + secret + ${JSON.stringify(suffix)}: ${out}`).not.toBeNull();
            expect(shown![1]!.length).toBeLessThanOrEqual(first);
            expect(encoded.startsWith(shown![1]!)).toBe(true);
            expect(shown![2]!.length).toBeLessThanOrEqual(encoded.length - last);
            expect(encoded.endsWith(shown![2]!)).toBe(true);
            expect(out).not.toContain(base64Middle(secret, k, encoding));
          }
        }
      }
    }
  });

  it('masks base64 split across chunks at every position', () => {
    const secret = secrets[0]!;
    const text = `x ${Buffer.from(`ab${secret}cd`, 'utf8').toString('base64')} y`;
    const expected = feed([secret], [text]);
    expect(expected).not.toContain(base64Middle(secret, 2, 'base64'));
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        expect(feed([secret], [text.slice(0, i), text.slice(i, j), text.slice(j)])).toBe(expected);
      }
    }
  });

  it('ignores derived forms shorter than 4 characters', () => {
    // The base64 middles of "ab" are 2 characters long; its padded encoding "YWI=" is 4.
    expect(feed(['ab'], ['YW YWI YWI= ab'])).toBe('YW YWI *** ***');
    expect(maskingPatterns(['ab']).every((p) => p === 'ab' || p.length >= 4)).toBe(true);
  });

  it('masks the URL-encoded forms', () => {
    const secret = "p@ss word/&=?ü!'()~";
    const component = encodeURIComponent(secret);
    const plus = component.replace(/%20/g, '+');
    const form = new URLSearchParams({ q: secret }).toString().slice(2);
    expect(new Set([component, plus, form]).size).toBe(3);
    for (const encoded of [component, plus, form]) {
      expect(feed([secret], [`GET /?q=${encoded}&x=1`])).toBe('GET /?q=***&x=1');
    }
    // A secret that URL-encodes to itself adds nothing.
    expect(maskingPatterns(['plain-Secret_1']).filter((p) => p.includes('plain'))).toEqual(['plain-Secret_1']);
  });

  it('masks each line of a multi-line secret of at least 4 characters on its own', () => {
    const secret = '-----BEGIN TEST KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nabc\n-----END TEST KEY-----';
    const lines = secret.split('\n');
    expect(feed([secret], [`echo ${lines[1]}`])).toBe('echo ***');
    expect(feed([secret], [`short line: ${lines[2]}\n`])).toBe('short line: abc\n');
    expect(feed([secret], [secret])).toBe('***');
    // Printed with CRLF line ends the whole value no longer matches; its lines still do.
    expect(feed([secret], [lines.join('\r\n')])).toBe('***\r\n***\r\nabc\r\n***');
  });
});

// Characters that can appear in no pattern of the secrets below: not in their
// alphabet, not base64, not part of a URL encoding.
const TEXT_CHARS = ['ж', '中', ' ', '.', ',', ';', ':', '\n', '\t', '<', '>', '"'];
const SECRET_CHARS = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...'!#$&\'()+/=?@[]^_`{|}~-%',
  'é', '€', '😀',
];
const text = fc.string({ unit: fc.constantFrom(...TEXT_CHARS), maxLength: 40 });
const secret = fc.string({ unit: fc.constantFrom(...SECRET_CHARS), minLength: 4, maxLength: 16 });
const cutPoints = fc.array(fc.nat(), { maxLength: 12 });

describe('secretMasker: properties', () => {
  it('never lets a secret or its base64 through, and matches masking the whole text at once', () => {
    const piece = fc.oneof(
      text.map((t) => ({ text: t })),
      fc.nat(2).map((i) => ({ secret: i })),
      fc.record({
        base64: fc.nat(2),
        prefix: fc.uint8Array({ maxLength: 5 }),
        suffix: fc.uint8Array({ maxLength: 5 }),
        encoding: fc.constantFrom('base64' as const, 'base64url' as const),
      }),
    );
    fc.assert(fc.property(fc.array(secret, { minLength: 1, maxLength: 3 }), fc.array(piece, { maxLength: 12 }), cutPoints, (secrets, pieces, at) => {
      let input = '';
      for (const p of pieces) {
        if ('text' in p) input += p.text;
        else if ('secret' in p) input += secrets[p.secret % secrets.length];
        else {
          const s = Buffer.from(secrets[p.base64 % secrets.length]!, 'utf8');
          input += Buffer.concat([p.prefix, s, p.suffix]).toString(p.encoding);
        }
      }
      const out = feed(secrets, cut(input, at));
      for (const s of secrets) {
        expect(out).not.toContain(s);
        for (let k = 0; k < 3; k++) {
          for (const encoding of ['base64', 'base64url'] as const) {
            const middle = base64Middle(s, k, encoding);
            if (middle.length >= 4) expect(out).not.toContain(middle);
          }
        }
      }
      expect(out).toBe(naiveMask(input, maskingPatterns(secrets)));
      expect(out).toBe(feed(secrets, [input]));
    }), { numRuns: 300 });
  });

  it('passes text without secrets through unchanged, holding back less than the longest pattern', () => {
    fc.assert(fc.property(fc.array(secret, { maxLength: 3 }), fc.array(text, { maxLength: 8 }), cutPoints, (secrets, texts, at) => {
      const input = texts.join('');
      const longest = Math.max(1, ...maskingPatterns(secrets).map((p) => p.length));
      const masker = secretMasker(secrets);
      let written = 0;
      let out = '';
      for (const chunk of cut(input, at)) {
        written += chunk.length;
        out += masker.write(chunk);
        expect(written - out.length).toBeLessThanOrEqual(longest - 1);
      }
      expect(out + masker.end()).toBe(input);
    }), { numRuns: 300 });
  });

  it('matches masking the whole text at once whatever the chunking, with many overlaps', () => {
    // A two-letter alphabet: secrets overlap each other and themselves all the time.
    const tiny = fc.string({ unit: fc.constantFrom('a', 'b'), minLength: 1, maxLength: 5 });
    const noisy = fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 60 });
    fc.assert(fc.property(fc.array(tiny, { minLength: 1, maxLength: 4 }), noisy, cutPoints, fc.constantFrom('***', '', '#'), (secrets, input, at, replacement) => {
      const expected = naiveMask(input, maskingPatterns(secrets), replacement);
      expect(feed(secrets, cut(input, at), replacement)).toBe(expected);
      expect(feed(secrets, [...input.split('')], replacement)).toBe(expected);
    }), { numRuns: 500 });
  });
});

describe('secretMasker: throughput', () => {
  it('masks a 10 MB log in linear time', () => {
    const secrets = Array.from({ length: 50 }, (_, i) => `secret-${i}-${'q'.repeat(i % 20)}-Zx9!`);
    const lines: string[] = [];
    let size = 0;
    for (let i = 0; size < 10 * 1024 * 1024; i++) {
      const line = i % 1000 === 0
        ? `token ${secrets[i % 50]} and ${Buffer.from(`k=${secrets[(i + 1) % 50]}`).toString('base64')}\n`
        : `[${i}] compiling module ${i % 97} of 97: secret-ish words, sec, secre, ${'=-'.repeat(i % 30)}\n`;
      lines.push(line);
      size += line.length;
    }
    const input = lines.join('');
    const masker = secretMasker(secrets);
    const started = performance.now();
    let out = '';
    for (let i = 0; i < input.length; i += 65_536) out += masker.write(input.slice(i, i + 65_536));
    out += masker.end();
    const elapsed = performance.now() - started;
    console.log(`masked ${(input.length / 1024 / 1024).toFixed(1)} MB with ${maskingPatterns(secrets).length} patterns in ${elapsed.toFixed(0)} ms`);
    expect(out).not.toContain(secrets[0]);
  });
});

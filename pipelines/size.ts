const SIZE = /^(\d+)([kmg])?$/i;
const UNIT = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;

/** Bytes of `512m`, `2g`, `1048576` (k, m, g: KiB, MiB, GiB, as Docker reads them); null when the text is not a size. */
export function parseSize(text: string): number | null {
  const m = SIZE.exec(text.trim());
  if (!m) return null;
  const unit = m[2] ? UNIT[m[2].toLowerCase() as keyof typeof UNIT] : 1;
  return Number(m[1]) * unit;
}

/** `2g`, `64m`, `1536k`: a size as a user would write it back. */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [['g', UNIT.g], ['m', UNIT.m], ['k', UNIT.k]] as const) if (bytes % n === 0) return `${bytes / n}${unit}`;
  return String(bytes);
}

type HeaderBag = Headers | Record<string, string | string[] | number | undefined> | undefined;

function get(headers: HeaderBag, name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const v = (headers as Record<string, unknown>)[name];
  return v === undefined || v === null ? null : String(Array.isArray(v) ? v[0] : v);
}

/**
 * How long a forge asked us to wait, in seconds: `Retry-After` (seconds or a
 * date), else GitHub's `x-ratelimit-reset` when no requests remain. Null when
 * it did not say.
 */
export function retryAfterSeconds(headers: HeaderBag, now = Date.now()): number | null {
  const retryAfter = get(headers, 'retry-after');
  if (retryAfter) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(1, Math.ceil(seconds));
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(1, Math.ceil((at - now) / 1000));
  }
  const reset = Number(get(headers, 'x-ratelimit-reset'));
  if (get(headers, 'x-ratelimit-remaining') === '0' && Number.isFinite(reset) && reset > 0) return Math.max(1, Math.ceil(reset - now / 1000));
  return null;
}

/** A failure the forge answered with a time to wait: the report is retried then, not sooner. */
export class RateLimitedError extends Error {
  retryAfter: number;
  constructor(message: string, retryAfter: number) {
    super(message);
    this.retryAfter = retryAfter;
  }
}

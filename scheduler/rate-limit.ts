/**
 * A token bucket per source address for requests that failed verification.
 * Verified deliveries never pass through it: forges barely retry, so a real
 * delivery is never refused for load (docs/api.md, "Hooks").
 */
export function unverifiedLimiter(opts: { perMinute: number; burst: number }) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const rate = opts.perMinute / 60_000;

  return {
    /** Takes a token for a failed request; answers seconds to wait when none is left. */
    take(address: string, now = Date.now()): number | null {
      const b = buckets.get(address) ?? { tokens: opts.burst, at: now };
      b.tokens = Math.min(opts.burst, b.tokens + (now - b.at) * rate);
      b.at = now;
      buckets.set(address, b);
      if (buckets.size > 100_000) buckets.delete(buckets.keys().next().value!);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return null;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / rate / 1000));
    },
  };
}

export type UnverifiedLimiter = ReturnType<typeof unverifiedLimiter>;

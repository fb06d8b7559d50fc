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

/**
 * Refusals written to the audit log: a few per address and minute (`perAddress`),
 * and no more than `overall` a minute from all addresses together, each with a
 * burst of as many. Everything past that is counted in metrics only.
 */
export function auditLimiter(opts: { perAddress: number; overall: number }) {
  const each = unverifiedLimiter({ perMinute: opts.perAddress, burst: opts.perAddress });
  const all = unverifiedLimiter({ perMinute: opts.overall, burst: opts.overall });
  return {
    /** True when this refusal may be audited. */
    take(address: string, now = Date.now()): boolean {
      return each.take(address, now) === null && all.take('*', now) === null;
    },
  };
}

export type AuditLimiter = ReturnType<typeof auditLimiter>;

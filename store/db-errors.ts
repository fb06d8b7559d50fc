// Errors that mean "the database cannot be reached" (answer 503), as opposed to a bug (500).
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  // 57P0x: admin shutdown, crash shutdown, cannot connect now; 08xxx: connection exceptions.
  if (e.code && (/^57P0/.test(e.code) || /^08/.test(e.code))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(e.message ?? '');
}

/**
 * Runs `fn` again while the database cannot be reached, for up to `maxMs`:
 * a restart of PostgreSQL is waited out rather than reported as the caller's
 * own failure. Any other error, or one past the deadline, is thrown.
 */
export async function waitingOutOutages<T>(fn: () => Promise<T>, maxMs = 60_000): Promise<T> {
  const deadline = Date.now() + maxMs;
  for (let wait = 250; ; wait = Math.min(wait * 2, 5000)) {
    try {
      return await fn();
    } catch (err) {
      if (!isDatabaseUnavailable(err) || Date.now() + wait > deadline) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** 23505: a row with that key exists already (a name taken twice). */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === '23505';
}

// Errors that mean "the database cannot be reached" (answer 503), as opposed to a bug (500).
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  // 57P0x: admin shutdown, crash shutdown, cannot connect now; 08xxx: connection exceptions.
  if (e.code && (/^57P0/.test(e.code) || /^08/.test(e.code))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(e.message ?? '');
}

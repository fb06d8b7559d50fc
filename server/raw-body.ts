import type { IncomingMessage } from 'node:http';

export class BodyTooLarge extends Error {}
/** The bytes of bodies being read (or held until verified) would pass what memory allows them. */
export class BodiesOverBudget extends Error {}

/** Bytes shared by the bodies of requests not yet verified: a bound on what unauthenticated senders can make us hold. */
export interface BodyBudget {
  take(bytes: number): boolean;
  release(bytes: number): void;
}

export function bodyBudget(limitBytes: number): BodyBudget & { used(): number } {
  let used = 0;
  return {
    take(bytes) {
      if (used + bytes > limitBytes) return false;
      used += bytes;
      return true;
    },
    release(bytes) { used -= bytes; },
    used: () => used,
  };
}

/**
 * The request body as sent (signatures cover these exact bytes), refused past
 * `limit`. With a budget, every byte read is taken from it as it arrives (a
 * slow sender holds only what it sent); the caller releases `body.length`
 * once done with the body. A budget run dry releases what this read took and
 * throws BodiesOverBudget.
 */
export async function readRawBody(req: IncomingMessage, limit: number, budget?: BodyBudget): Promise<Buffer> {
  const declared = req.headers['content-length'] === undefined ? NaN : Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge();
  // With a declared length, one buffer filled as chunks come: each chunk is garbage at
  // once and the body is never copied a second time (its pages are touched only as filled).
  const whole = Number.isFinite(declared) ? Buffer.allocUnsafe(declared) : null;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      if (size + chunk.length > (whole ? declared : limit)) throw new BodyTooLarge();
      if (budget && !budget.take(chunk.length)) throw new BodiesOverBudget();
      if (whole) chunk.copy(whole, size);
      else chunks.push(chunk);
      size += chunk.length;
    }
  } catch (err) {
    budget?.release(size);
    throw err;
  }
  return whole ? whole.subarray(0, size) : Buffer.concat(chunks, size);
}

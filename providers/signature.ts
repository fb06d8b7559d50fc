import { createHmac, timingSafeEqual } from 'node:crypto';

export function hmacSha256(secret: string, data: Buffer): Buffer {
  return createHmac('sha256', secret).update(data).digest();
}

/**
 * True when `given` is exactly the lowercase hex of one secret's HMAC-SHA256
 * of the body. Every secret is tried so the time taken says nothing about
 * which one matched.
 */
export function matchesHexHmac(given: string, body: Buffer, secrets: string[]): boolean {
  if (!/^[0-9a-f]{64}$/.test(given)) return false;
  const expected = Buffer.from(given, 'hex');
  let ok = false;
  for (const secret of secrets) {
    if (timingSafeEqual(hmacSha256(secret, body), expected)) ok = true;
  }
  return ok;
}

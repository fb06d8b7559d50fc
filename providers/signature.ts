import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

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

/**
 * Constant-time equality of two strings of any lengths. Their SHA-256 digests
 * are compared, so neither the content nor the length of the secret leaks.
 */
export function equalSecrets(given: string, expected: string): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}

const SIGNING_SECRET = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

/** Standard Webhooks (and GitLab) refuse a signing timestamp further than this from now. */
export const SIGNING_TOLERANCE_SECONDS = 5 * 60;

/** The HMAC key of a Standard Webhooks signing secret (`whsec_<base64>`), or null for any other secret. */
export function signingKey(secret: string): Buffer | null {
  const match = SIGNING_SECRET.exec(secret);
  if (!match) return null;
  const key = Buffer.from(match[1]!, 'base64');
  return key.length > 0 ? key : null;
}

export interface StandardWebhookProof {
  id: string | null;
  timestamp: string | null;
  /** `webhook-signature`: space-separated `v1,<base64>` entries (several while keys rotate). */
  signature: string | null;
}

/**
 * True when one `v1,` entry is the base64 HMAC-SHA256 of `id.timestamp.body`
 * under one of the keys and the timestamp (seconds) is within five minutes of
 * `now` (milliseconds), so an old capture cannot be replayed. Entries are
 * compared as canonical base64 strings: a variant that decodes to the same
 * bytes is still a different signature.
 */
export function matchesStandardWebhook(proof: StandardWebhookProof, body: Buffer, keys: Buffer[], now: number): boolean {
  const { id, timestamp, signature } = proof;
  if (!id || !signature || !timestamp || !/^\d{1,15}$/.test(timestamp)) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > SIGNING_TOLERANCE_SECONDS) return false;
  const given = signature.split(' ').filter((entry) => entry.startsWith('v1,')).map((entry) => entry.slice('v1,'.length));
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
  let ok = false;
  for (const key of keys) {
    const expected = createHmac('sha256', key).update(signed).digest('base64');
    for (const candidate of given) {
      if (equalSecrets(candidate, expected)) ok = true;
    }
  }
  return ok;
}

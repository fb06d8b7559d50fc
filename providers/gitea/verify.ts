import { header } from '../http-headers.ts';
import { isForm } from '../payload.ts';
import { matchesHexHmac } from '../signature.ts';
import type { Headers } from '../types.ts';

/**
 * X-Gitea-Signature (Forgejo: X-Forgejo-Signature): bare lowercase hex
 * HMAC-SHA256. Unlike GitHub's, a form's signature covers the JSON inside its
 * `payload` field, not the form bytes as sent.
 */
export function verifyGitea(headers: Headers, rawBody: Buffer, secrets: string[]): boolean {
  const signature = header(headers, 'x-gitea-signature') ?? header(headers, 'x-forgejo-signature');
  const signed = giteaSignedBytes(headers, rawBody);
  return signature !== null && signed !== null && matchesHexHmac(signature, signed, secrets);
}

/** The bytes Gitea's signature covers: the body, or the JSON inside a form's `payload` field (null: a form without one). */
export function giteaSignedBytes(headers: Headers, rawBody: Buffer): Buffer | null {
  if (!isForm(headers)) return rawBody;
  const payload = new URLSearchParams(rawBody.toString('utf8')).get('payload');
  return payload === null ? null : Buffer.from(payload, 'utf8');
}

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
  if (signature === null) return false;
  let signed = rawBody;
  if (isForm(headers)) {
    const payload = new URLSearchParams(rawBody.toString('utf8')).get('payload');
    if (payload === null) return false;
    signed = Buffer.from(payload, 'utf8');
  }
  return matchesHexHmac(signature, signed, secrets);
}

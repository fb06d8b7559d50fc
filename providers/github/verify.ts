import { header } from '../http-headers.ts';
import { matchesHexHmac } from '../signature.ts';
import type { Headers } from '../types.ts';

/** X-Hub-Signature-256: sha256=<lowercase hex HMAC-SHA256 of the raw body as sent>. */
export function verifyGitHub(headers: Headers, rawBody: Buffer, secrets: string[]): boolean {
  const signature = header(headers, 'x-hub-signature-256');
  if (!signature?.startsWith('sha256=')) return false;
  return matchesHexHmac(signature.slice('sha256='.length), rawBody, secrets);
}

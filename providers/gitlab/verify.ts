import { header } from '../http-headers.ts';
import { equalSecrets, matchesStandardWebhook, signingKey } from '../signature.ts';
import type { Headers } from '../types.ts';

/**
 * A `whsec_` secret is a signing token: `webhook-signature` must sign
 * `webhook-id.webhook-timestamp.body` (Standard Webhooks). Any other secret is
 * a secret token, which GitLab sends as is in X-Gitlab-Token. Every secret is
 * tried so the time taken says nothing about which one matched.
 */
export function verifyGitLab(headers: Headers, rawBody: Buffer, secrets: string[], now: number = Date.now()): boolean {
  const keys: Buffer[] = [];
  const tokens: string[] = [];
  for (const secret of secrets) {
    const key = signingKey(secret);
    if (key) keys.push(key);
    else if (secret !== '') tokens.push(secret);
  }
  const proof = {
    id: header(headers, 'webhook-id'),
    timestamp: header(headers, 'webhook-timestamp'),
    signature: header(headers, 'webhook-signature'),
  };
  const signed = keys.length > 0 && matchesStandardWebhook(proof, rawBody, keys, now);
  const given = header(headers, 'x-gitlab-token');
  let tokenMatches = false;
  if (given !== null) {
    for (const token of tokens) {
      if (equalSecrets(given, token)) tokenMatches = true;
    }
  }
  return signed || tokenMatches;
}

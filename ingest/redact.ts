import type { Headers } from '../providers/types.ts';

// docs/api.md, "Hooks": proofs and credentials never reach storage or the UI.
const REDACTED = new Set([
  'x-hub-signature', 'x-hub-signature-256', 'x-gitea-signature', 'x-forgejo-signature',
  'webhook-signature', 'x-gitlab-token', 'authorization',
]);

/** Headers as stored and shown; `also` names a source's own proof header (hmac's --signature-header). */
export function redactHeaders(headers: Headers, also: string[] = []): Record<string, string> {
  const extra = new Set(also.map((h) => h.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    out[name] = REDACTED.has(lower) || extra.has(lower) ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * The body as stored: old Gitea versions put the webhook secret in the
 * payload's top-level `secret` field, which must never be kept or shown.
 */
export function redactBody(payload: unknown, rawBody: Buffer): Buffer {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload) || !('secret' in payload)) return rawBody;
  return Buffer.from(JSON.stringify({ ...payload, secret: '[redacted]' }));
}

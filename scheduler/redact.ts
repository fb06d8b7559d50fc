import type { Headers } from '../providers/types.ts';

// SPEC.md §3: proofs and credentials never reach storage or the UI.
const REDACTED = new Set([
  'x-hub-signature', 'x-hub-signature-256', 'x-gitea-signature', 'x-forgejo-signature',
  'webhook-signature', 'x-gitlab-token', 'authorization',
]);

export function redactHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = REDACTED.has(name.toLowerCase()) ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

import { createHash } from 'node:crypto';
import { header } from '../providers/http-headers.ts';
import { equalSecrets, matchesHexHmac, matchesStandardWebhook, signingKey } from '../providers/signature.ts';
import { at } from '../providers/read-json.ts';
import type { Headers } from '../providers/types.ts';
import type { sources } from '../store/index.ts';

/** The header an hmac source's proof travels in (and that is never stored). */
export function sourceSignatureHeader(source: sources.Source): string {
  return source.signatureHeader ?? 'x-signature';
}

/** The three schemes of generic sources (docs/api.md, "Hooks"), on the raw bytes, constant-time, against every active secret. */
export function verifySource(source: sources.Source, headers: Headers, rawBody: Buffer, secrets: string[], now = Date.now()): boolean {
  switch (source.auth) {
    case 'hmac': {
      const given = (header(headers, sourceSignatureHeader(source)) ?? '').trim();
      return matchesHexHmac(given.startsWith('sha256=') ? given.slice('sha256='.length) : given, rawBody, secrets);
    }
    case 'standard-webhooks': {
      // A whsec_ secret is a base64 key; any other secret is used as its bytes.
      const keys = secrets.map((s) => signingKey(s) ?? Buffer.from(s));
      return matchesStandardWebhook({ id: header(headers, 'webhook-id'), timestamp: header(headers, 'webhook-timestamp'), signature: header(headers, 'webhook-signature') }, rawBody, keys, now);
    }
    case 'bearer': {
      const given = /^Bearer\s+(.+)$/i.exec(header(headers, 'authorization') ?? '')?.[1] ?? '';
      let ok = false;
      for (const secret of secrets) if (equalSecrets(given, secret)) ok = true;
      return ok && given.length > 0;
    }
  }
}

/** A value named as '<header name>' or '$.json.path' (docs/cli.md, source add --type-from, --id-from). */
export function pick(spec: string | null, headers: Headers, payload: unknown): string | null {
  if (!spec) return null;
  if (spec.startsWith('$.')) {
    const v = at(payload, spec.slice(2));
    return typeof v === 'string' || typeof v === 'number' ? String(v) : null;
  }
  return header(headers, spec);
}

/** The delivery id: --id-from, else Standard Webhooks' webhook-id, else the body's hash. */
export function sourceDeliveryId(source: sources.Source, headers: Headers, payload: unknown, rawBody: Buffer): string {
  const id = pick(source.idFrom, headers, payload) ?? (source.auth === 'standard-webhooks' ? header(headers, 'webhook-id') : null);
  return `source:${source.id}:${id ?? `sha256:${createHash('sha256').update(rawBody).digest('hex')}`}`;
}

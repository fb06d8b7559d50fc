import { header } from './http-headers.ts';
import type { Headers } from './types.ts';

export class PayloadError extends Error {}

function mediaType(headers: Headers): string {
  return (header(headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

export function isForm(headers: Headers): boolean {
  return mediaType(headers) === 'application/x-www-form-urlencoded';
}

/** The JSON of a body sent as JSON or as a form whose `payload` field holds it. */
export function jsonPayload(headers: Headers, rawBody: Buffer): unknown {
  let text = rawBody.toString('utf8');
  if (isForm(headers)) {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null) throw new PayloadError('form body has no payload field');
    text = payload;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    // Only where it broke: the parser's own message quotes the body, which must not reach the audit log.
    const at = /at position (\d+)/.exec((err as Error).message)?.[1];
    throw new PayloadError(`body is not JSON${at ? ` (at character ${at})` : ''}`);
  }
}

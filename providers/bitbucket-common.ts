import { header } from './http-headers.ts';
import { matchesHexHmac } from './signature.ts';
import type { Headers, StatusReport } from './types.ts';

/**
 * X-Hub-Signature: sha256=<lowercase hex HMAC-SHA256 of the raw body>, the
 * proof of Bitbucket Cloud and Data Center alike (the header GitHub uses for SHA-1).
 */
export function verifyHubSignature(headers: Headers, rawBody: Buffer, secrets: string[]): boolean {
  const signature = header(headers, 'x-hub-signature');
  if (!signature?.startsWith('sha256=')) return false;
  return matchesHexHmac(signature.slice('sha256='.length), rawBody, secrets);
}

/** Neither Bitbucket has a skipped state: a skip is shown as a success that says so. */
export function statusDescription(report: StatusReport): string {
  if (report.state !== 'skipped' || report.description.startsWith('skipped')) return report.description;
  return `skipped: ${report.description}`;
}

import { header } from './http-headers.ts';
import { RateLimitedError, retryAfterSeconds } from './retry-after.ts';
import { matchesHexHmac } from './signature.ts';
import { PermanentReportError, type Headers, type StatusReport } from './types.ts';

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

/** A failed status request; `status` is the HTTP status so the report job can decide to retry. */
export class StatusHttpError extends Error {
  status: number;

  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

// A hung forge must not hold a report job forever; the job retries with backoff.
const TIMEOUT_MS = 30_000;
const MAX_MESSAGE = 500;

/** The forge's own words from an error body: Cloud's error.message, Data Center's errors[].message, else the text. */
function forgeMessage(text: string): string {
  let message = text;
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown }; errors?: Array<{ message?: unknown }> };
    const found = body.error?.message ?? body.errors?.map((e) => e.message).filter((m) => typeof m === 'string').join('; ');
    if (typeof found === 'string' && found) message = found;
  } catch {
    // Not JSON (a proxy's HTML page, say): the text is all there is.
  }
  message = message.trim();
  return message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 1)}…`;
}

/**
 * POSTs one build status as JSON with the token as a Bearer credential.
 * Permanent 4xx answers (429 is a rate limit, worth retrying) throw
 * PermanentReportError; other answers throw StatusHttpError.
 */
export async function postBuildStatus(forge: string, url: string, token: string | null, body: object): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'forgeline' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    // A redirect would re-send the token to wherever it points: treat it as an answer instead.
    redirect: 'manual',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await res.text();
  if (res.ok) return;
  const message = `${forge} answered ${res.status}: ${forgeMessage(text) || res.statusText}`;
  if (res.status >= 400 && res.status < 500 && res.status !== 429) {
    throw Object.assign(new PermanentReportError(message), { status: res.status });
  }
  const wait = retryAfterSeconds(res.headers);
  if (res.status === 429 && wait !== null) throw new RateLimitedError(`${forge} rate limit: ${message}`, wait);
  throw new StatusHttpError(message, res.status);
}

/**
 * The two halves of `workspace/repo` or `PROJECT/slug`. A name without them
 * (or a missing API URL) can never succeed, so retrying it would be pointless.
 */
export function statusTarget(forge: string, apiUrl: string, repoName: string): { base: string; owner: string; slug: string } {
  const [owner, slug, ...rest] = repoName.split('/');
  if (!owner || !slug || rest.length > 0) throw new PermanentReportError(`${forge}: repository name '${repoName}' is not owner/slug`);
  const base = apiUrl.replace(/\/+$/, '');
  if (!base) throw new PermanentReportError(`${forge}: no API URL is registered for ${repoName}`);
  return { base, owner: encodeURIComponent(owner), slug: encodeURIComponent(slug) };
}

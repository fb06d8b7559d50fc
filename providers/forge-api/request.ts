import { RateLimitedError, retryAfterSeconds } from '../retry-after.ts';
import { PermanentReportError } from '../types.ts';

/** One forge's REST API as seen by one call: where it is, how to authenticate, what to keep out of messages. */
export interface ForgeApi {
  /** The forge's name in messages: "GitHub", "Bitbucket Data Center". */
  forge: string;
  /** Every request, including pages the forge links to, goes to this origin and no other: it holds the token. */
  origin: string;
  /** Authentication and content negotiation, sent with every request. */
  headers: Record<string, string>;
  /** Values that never appear in an error message, whatever the forge echoes back (the token, a hook's secret). */
  secrets: string[];
  /** Said after the forge's words on a 401, 403 or 404, where the usual cause is the token's rights. */
  accessHint?: string;
  /** A 4xx that is a rate limit in disguise (GitHub answers some with 403): retried, not permanent. */
  rateLimited?: (status: number, headers: Headers, message: string) => boolean;
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON body; null when there is none. */
  body: unknown;
}

// A hung forge must fail the call (the caller retries later), not hold it forever.
const TIMEOUT_MS = 30_000;
const MAX_MESSAGE = 500;

/**
 * The forge's own words from an error body, whichever shape it uses:
 * `message` (GitHub, Gitea, GitLab — a string, or GitLab's field → reasons map),
 * `error` (GitLab's string, Bitbucket Cloud's {message, detail}),
 * `errors` (GitHub's details, Data Center's [{message}]); else the text itself.
 */
export function forgeMessage(text: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's HTML page, say): the text is all there is.
    return shorten(text.trim());
  }
  const parts: string[] = [];
  const add = (value: unknown, field?: string): void => {
    if (typeof value === 'string' && value) parts.push(field ? `${field} ${value}` : value);
    else if (Array.isArray(value)) for (const item of value) add(item, field);
    else if (value && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      if (typeof record.message === 'string' || typeof record.detail === 'string') {
        add(record.message, field);
        add(record.detail, field);
      } else if (typeof record.code === 'string') {
        // GitHub's validation details: {resource, field, code}.
        add(`${record.field ?? record.resource ?? ''} ${record.code}`.trim(), field);
      } else {
        for (const [key, inner] of Object.entries(record)) add(inner, field ? `${field}.${key}` : key);
      }
    }
  };
  if (body && typeof body === 'object') {
    const record = body as Record<string, unknown>;
    add(record.message);
    add(record.error);
    add(record.errors);
  }
  return shorten(parts.join('; ') || text.trim());
}

function shorten(text: string): string {
  return text.length <= MAX_MESSAGE ? text : `${text.slice(0, MAX_MESSAGE - 1)}…`;
}

/** The message with every secret blanked; short values are left, since blanking them would garble the words around. */
export function redact(message: string, secrets: string[]): string {
  let out = message;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out;
}

/**
 * A failed call, by the one rule every forge call follows: a 4xx other than
 * a rate limit is a PermanentReportError (the same request can never
 * succeed); a rate limit that says when to come back is a RateLimitedError;
 * anything else an Error worth retrying. All carry the HTTP status.
 */
function failure(api: ForgeApi, method: string, url: URL, status: number, headers: Headers, text: string, statusText: string): Error {
  let words = forgeMessage(text) || statusText;
  if (status >= 300 && status < 400) {
    // Redirects are not followed (the token would go along): a moved or renamed repository ends up here.
    words = 'a redirect, not followed: has the repository moved or been renamed?';
  }
  if ((status === 401 || status === 403 || status === 404) && api.accessHint) words = `${words} (${api.accessHint})`;
  const message = redact(`${api.forge} answered ${status} to ${method} ${url.pathname}: ${words}`, api.secrets);
  const limited = status === 429 || Boolean(api.rateLimited?.(status, headers, message));
  const wait = limited ? retryAfterSeconds(headers) : null;
  if (wait !== null) return Object.assign(new RateLimitedError(message, wait), { status });
  const permanent = status >= 400 && status < 500 && !limited;
  return Object.assign(permanent ? new PermanentReportError(message) : new Error(message), { status });
}

/** One JSON request to the forge; answers the parsed body of a 2xx, throws on anything else. */
export async function request(api: ForgeApi, method: string, url: URL, body?: unknown): Promise<ApiAnswer> {
  if (url.origin !== api.origin) throw new Error(`${api.forge}: refusing to send the token to ${url.origin}`);
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'forgeline', ...api.headers };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    // fetch's own error says only "fetch failed"; the cause (refused, timed out, DNS) is what a user can act on.
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new Error(redact(`${api.forge}: ${method} ${url.pathname} failed: ${cause}`, api.secrets), { cause: err });
  }
  const text = await res.text();
  if (res.status < 200 || res.status >= 300) throw failure(api, method, url, res.status, res.headers, text, res.statusText);
  if (!text.trim()) return { status: res.status, headers: res.headers, body: null };
  try {
    return { status: res.status, headers: res.headers, body: JSON.parse(text) };
  } catch {
    throw new Error(`${api.forge} answered ${res.status} to ${method} ${url.pathname} with a body that is not JSON`);
  }
}

/** `owner/name` (or workspace/slug, PROJECT/slug) as its two path segments, encoded; anything else can never succeed. */
export function ownerAndName(forge: string, name: string): { owner: string; slug: string } {
  const [owner, slug, ...rest] = name.split('/');
  if (!owner || !slug || rest.length > 0) throw new PermanentReportError(`${forge}: repository name '${name}' is not owner/name`);
  return { owner: encodeURIComponent(owner), slug: encodeURIComponent(slug) };
}

/**
 * The API base without trailing slashes, and its origin. A missing base (Data
 * Center has no default) or one that is not a URL can never succeed.
 */
export function apiRoot(forge: string, apiUrl: string, name: string): { root: string; origin: string } {
  const root = apiUrl.replace(/\/+$/, '');
  if (!root) throw new PermanentReportError(`${forge}: no API URL is registered for ${name}`);
  try {
    return { root, origin: new URL(root).origin };
  } catch {
    throw new PermanentReportError(`${forge}: the API URL registered for ${name} is not a URL`);
  }
}

import picomatch from 'picomatch';
import { InputError } from '../scheduler/errors.ts';

export interface UrlPolicy {
  /** Host globs that API and clone URLs may name (FORGELINE_ALLOWED_HOSTS). */
  allowedHosts: string[];
  /** FORGELINE_ALLOW_LOCAL: also file:// and loopback URLs. */
  allowLocal: boolean;
}

export const PUBLIC_FORGE_HOSTS = ['github.com', 'api.github.com', 'gitlab.com', 'bitbucket.org', 'api.bitbucket.org', 'codeberg.org', 'gitea.com'];

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** Throws with what to change when a URL may not be fetched from (SSRF guard). */
export function assertUrlAllowed(url: string, what: string, policy: UrlPolicy): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`${what} '${url}' is not a URL`);
  }
  if (parsed.protocol === 'file:') {
    if (policy.allowLocal) return;
    throw new InputError(`${what} '${url}': file:// URLs need FORGELINE_ALLOW_LOCAL=true on the server`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new InputError(`${what} '${url}': only http(s) URLs are allowed`);
  if (LOOPBACK.test(parsed.hostname)) {
    if (policy.allowLocal) return;
    throw new InputError(`${what} '${url}': loopback URLs need FORGELINE_ALLOW_LOCAL=true on the server`);
  }
  if (!policy.allowedHosts.some((glob) => picomatch.isMatch(parsed.hostname.toLowerCase(), glob.toLowerCase()))) {
    throw new InputError(`${what} '${url}': host ${parsed.hostname} is not in FORGELINE_ALLOWED_HOSTS (${policy.allowedHosts.join(', ')})`);
  }
}

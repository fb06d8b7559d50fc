/**
 * The repository's web page, from its HTTP(S) clone URL: forges serve it at
 * the clone URL without `.git` (credentials in the URL are dropped). Null for
 * other clone URLs (file://, ssh).
 */
export function webPage(cloneUrl: string): URL | null {
  let url: URL;
  try {
    url = new URL(cloneUrl);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  url.username = '';
  url.password = '';
  url.pathname = url.pathname.replace(/\.git$/, '').replace(/\/+$/, '');
  return url;
}

/** `<page>/<path>/<sha>`: the commit's page where the forge puts it under the repository's. */
export function commitUnder(path: string): (cloneUrl: string, sha: string) => string | null {
  return (cloneUrl, sha) => {
    const page = webPage(cloneUrl);
    return page ? `${page.origin}${page.pathname}/${path}/${sha}` : null;
  };
}

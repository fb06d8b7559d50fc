import { request, type ApiAnswer, type ForgeApi } from './request.ts';

// A forge that keeps answering "there is more" (a bug, a loop of links) must not hold the caller forever.
const MAX_PAGES = 1000;

/** Where the page after `answer` (read from `url`) is, or null after the last one. */
export type NextPage = (answer: ApiAnswer, url: URL) => URL | null;

/** Every page of a listing, in order, read one at a time so that a caller who found what it wanted can stop. */
export async function* pages(api: ForgeApi, first: URL, next: NextPage): AsyncGenerator<ApiAnswer> {
  const read = new Set<string>();
  let url: URL | null = first;
  while (url) {
    if (read.has(url.href)) throw new Error(`${api.forge}: the pages of ${first.pathname} lead back to one already read`);
    if (read.size >= MAX_PAGES) throw new Error(`${api.forge}: ${first.pathname} has more than ${MAX_PAGES} pages`);
    read.add(url.href);
    const answer = await request(api, 'GET', url);
    yield answer;
    url = next(answer, url);
  }
}

/** The target of the rel="next" link in a Link header (RFC 8288), or null. */
export function linkNext(link: string | null): string | null {
  if (!link) return null;
  // Parameters cannot hold '<', so each link runs from one '<' to the next; URLs may hold commas.
  for (const [, target, params] of link.matchAll(/<([^>]*)>([^<]*)/g)) {
    const rel = /(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params!);
    const relations = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (relations.includes('next')) return target!;
  }
  return null;
}

/**
 * A link the forge gave (Link header, a body's `next`) as a URL on the API's
 * own origin. Forges build these from their configured public name (Gitea's
 * ROOT_URL, GitHub Enterprise's hostname), which need not be the address
 * registered here; and the token must never go anywhere else.
 */
export function onOrigin(api: ForgeApi, link: string, current: URL): URL {
  const target = new URL(link, current);
  return new URL(`${target.pathname}${target.search}`, api.origin);
}

/** The same URL with one query parameter set. */
export function withParam(url: URL, name: string, value: string | number): URL {
  const next = new URL(url);
  next.searchParams.set(name, String(value));
  return next;
}

/** A page's JSON array, or the `values` of a paged object (Bitbucket); anything else is no items. */
export function itemsOf(body: unknown): Array<Record<string, unknown>> {
  const items = Array.isArray(body) ? body : (body as { values?: unknown } | null)?.values;
  return Array.isArray(items) ? items.filter((i): i is Record<string, unknown> => i !== null && typeof i === 'object') : [];
}

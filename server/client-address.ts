import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { BlockList } from 'node:net';
import { allowed } from '../ingest/cidr.ts';

export interface ClientView {
  /** The client's address: the peer's, or from X-Forwarded-For when the peer is a trusted proxy. */
  address: string | null;
  /** Whether the request came over TLS: directly, or as a trusted proxy says. */
  https: boolean;
}

/**
 * Who sent a request. X-Forwarded-For and X-Forwarded-Proto are believed
 * only from a peer in FORGELINE_TRUSTED_PROXIES; the client is the first
 * address, from the right, that is not a trusted proxy itself.
 */
export function clientView(req: IncomingMessage, trusted: BlockList | null): ClientView {
  const peer = req.socket.remoteAddress ?? null;
  const direct = { address: peer, https: Boolean((req.socket as TLSSocket).encrypted) };
  if (!trusted || !allowed(trusted, peer)) return direct;
  const chain = String(req.headers['x-forwarded-for'] ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  let address = peer;
  for (let i = chain.length - 1; i >= 0; i--) {
    address = chain[i]!;
    if (!allowed(trusted, address)) break;
  }
  // The rightmost entry is the one our trusted proxy added; those to its left came with the request, from anyone.
  const proto = String(req.headers['x-forwarded-proto'] ?? '').split(',').at(-1)!.trim().toLowerCase();
  return { address, https: proto ? proto === 'https' : direct.https };
}

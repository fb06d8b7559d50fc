import { createServer } from 'node:http';

/**
 * A forge API for benchmarks that takes every status at once (201), as a
 * healthy forge does: reports cost what they cost against a real one, rather
 * than failing and being retried against an address nobody listens on.
 */
export async function acceptingForge(): Promise<{ apiUrl: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    apiUrl: `http://127.0.0.1:${port}/api/v3`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

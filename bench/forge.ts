import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

/**
 * A forge API for benchmarks that takes every status at once (201), as a
 * healthy forge does: reports cost what they cost against a real one, rather
 * than failing and being retried against an address nobody listens on. It
 * runs in a process of its own, as a real forge runs elsewhere: its work is
 * not on the event loop of the Forgeline being measured.
 */
export async function acceptingForge(): Promise<{ apiUrl: string; close(): Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', (code) => reject(new Error(`the bench forge exited (${code})`)));
  });
  return {
    apiUrl: `http://127.0.0.1:${port}/api/v3`,
    close: () => new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill();
    }),
  };
}

if (process.argv[2] === 'serve' && process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
}

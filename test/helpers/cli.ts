import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/forgeline.js', import.meta.url));

/** Runs the real `forgeline` command in its own process. */
export async function forgelineCli(args: string[], env: NodeJS.ProcessEnv, input?: string, cwd?: string) {
  return execa(process.execPath, [bin, ...args], { env, extendEnv: false, reject: false, input, cwd });
}

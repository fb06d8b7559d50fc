import { execa } from 'execa';

// Git never prompts, never runs repository hooks, and never reads the user's config.
const BASE_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: '/nonexistent',
  GIT_TERMINAL_PROMPT: '0',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  LANG: 'C',
};

export interface GitOptions {
  cwd?: string;
  /** `name=value` settings for this command only (credentials are passed this way, never stored). */
  config?: string[];
  input?: string;
}

export async function git(args: string[], opts: GitOptions = {}): Promise<string> {
  const config = ['core.hooksPath=/dev/null', ...(opts.config ?? [])].flatMap((c) => ['-c', c]);
  const result = await execa('git', [...config, ...args], {
    cwd: opts.cwd,
    env: BASE_ENV,
    extendEnv: false,
    input: opts.input,
    stripFinalNewline: false,
    reject: false,
    // execa's cleanup loads signal-exit, which re-raises SIGTERM when its own
    // callbacks outnumber the other listeners: that would kill a worker in
    // the middle of its graceful shutdown.
    cleanup: false,
  });
  if (result.exitCode !== 0) {
    throw new Error(`git ${args[0]} failed (${result.exitCode}): ${String(result.stderr).trim()}`);
  }
  return String(result.stdout);
}

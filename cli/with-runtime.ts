import pino from 'pino';
import { readConfig } from './config.ts';
import { openRuntime, type Runtime } from './runtime.ts';

/** Opens the database and queues for one command (no workers), then closes them. */
export async function withRuntime<T>(fn: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await openRuntime(readConfig(), pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2)));
  try {
    return await fn(runtime);
  } finally {
    await runtime.close();
  }
}

/** The user a command acts as in the audit log. */
export const CLI_ACTOR = `cli:${process.env.USER ?? process.env.LOGNAME ?? 'unknown'}`;

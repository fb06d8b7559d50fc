import { readFileSync } from 'node:fs';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cliConfigFile } from './paths.ts';

/** What `forgeline login` writes, and `serve` on its first start. */
export interface CliConfig {
  server: string;
  token: string;
}

export function readCliConfig(env: NodeJS.ProcessEnv = process.env): Partial<CliConfig> {
  const file = cliConfigFile(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  try {
    return JSON.parse(text) as Partial<CliConfig>;
  } catch {
    throw new Error(`${file} is not valid JSON: run \`forgeline login\` again, or remove it`);
  }
}

/**
 * Writes the config readable by its owner alone: it holds a token. The new
 * file is made 0600 before the token is in it and then renamed over the old
 * one, so no reader ever sees the token in a file more open than that.
 */
export async function writeCliConfig(config: CliConfig, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = cliConfigFile(env);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await chmod(path.dirname(file), 0o700);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, '', { mode: 0o600, flag: 'wx' });
  await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`);
  await rename(temporary, file);
  return file;
}

/** A refusal of the server's, with its message: the CLI prints it as it is. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

let serverFlag: string | undefined;
/** `--server URL`, given before or after the command's name. */
export function setServerFlag(url: string | undefined): void {
  serverFlag = url;
}

/**
 * The CLI as a client of the server's HTTP API, like `gh` or
 * `woodpecker-cli`: the server from --server, FORGELINE_SERVER or the config;
 * the token from FORGELINE_TOKEN or the config. The token's role decides what
 * it may do, and the server records its name as who did it.
 */
export class ApiClient {
  readonly server: string;
  private readonly token: string | undefined;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    const config = readCliConfig(env);
    const server = serverFlag ?? env.FORGELINE_SERVER ?? config.server;
    if (!server) {
      throw new Error('no server to talk to: give --server URL, set FORGELINE_SERVER, or run `forgeline login --server URL --token TOKEN` once');
    }
    this.server = server.replace(/\/+$/, '');
    // The config's token belongs to the config's server: never sent to another one named by --server or FORGELINE_SERVER.
    this.token = env.FORGELINE_TOKEN ?? (config.server?.replace(/\/+$/, '') === this.server ? config.token : undefined);
  }

  async fetch(method: string, apiPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.server}${apiPath}`, {
        method,
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`cannot reach the server at ${this.server} (${cause?.code ?? cause?.message ?? (err as Error).message}): is \`forgeline serve\` running there?`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch { /* not JSON: the text itself */ }
    if (res.status === 401) message = `${message || 'unauthorized'} (set FORGELINE_TOKEN, or run \`forgeline login --server ${this.server} --token TOKEN\`)`;
    throw new ApiError(res.status, message || `${res.status} ${res.statusText}`);
  }

  async json<T = unknown>(method: string, apiPath: string, body?: unknown): Promise<T> {
    const res = await this.fetch(method, apiPath, body);
    return (res.status === 204 ? null : await res.json()) as T;
  }
}

/** A path segment: repository names (`acme/widget`) travel URL-encoded. */
export const seg = (value: string | number) => encodeURIComponent(String(value));

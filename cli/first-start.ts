import { addToken } from '../scheduler/index.ts';
import { tokens, type Pool } from '../store/index.ts';
import { readCliConfig, writeCliConfig } from './client.ts';

/**
 * The first start of a server nobody can reach yet: no token in the
 * database and no FORGELINE_API_TOKEN. It makes an `admin` token, shows it
 * once with what to do next, and keeps it in the config of the user who
 * started serve, so that user's CLI works at once.
 */
export async function firstStart(pool: Pool, opts: { apiToken: string | undefined; serverUrl: string; publicUrl: string }): Promise<string | null> {
  if (opts.apiToken || (await tokens.listTokens(pool)).length > 0) return null;
  const { token } = await addToken(pool, 'admin', 'admin', 'serve (first start)');
  let saved: string;
  try {
    // Another server's config stays: this token is printed below either way.
    const existing = readCliConfig();
    saved = existing.server && existing.server !== opts.serverUrl
      ? `not saved: ${'$'}XDG_CONFIG_HOME/forgeline/config.json names another server (${existing.server})`
      : `saved in ${await writeCliConfig({ server: opts.serverUrl, token })}`;
  } catch (err) {
    saved = `not saved: ${(err as Error).message}`;
  }
  return [
    '',
    'First start: an admin token was created. It is shown this once:',
    '',
    `    ${token}`,
    '',
    `  (${saved})`,
    '',
    'Next:',
    `  forgeline login --server ${opts.publicUrl} --token TOKEN   # as another user, or on another machine`,
    '  forgeline repo add --forge github --name OWNER/REPO --token-env GITHUB_TOKEN',
    `  then add the printed hookUrl and secret as the repository's webhook (hooks must reach ${opts.publicUrl})`,
    '  forgeline token add NAME --role read|write|approve|admin   # a token per person or machine',
    '',
  ].join('\n');
}

import type { Command } from 'commander';
import { ApiClient, seg } from '../client.ts';
import { collect, inputsOf, positiveInt } from '../options.ts';
import { printJson, printTable } from '../output.ts';

interface RunItem { id: number; pipeline: string; repo: string; sha: string; status: string; event: string; branch: string | null; createdAt: string }

/** Writes a stage's log as it is written, from the server's event stream, until the stage ends. */
async function followLog(client: ApiClient, apiPath: string): Promise<string> {
  const res = await client.fetch('GET', apiPath, undefined, { accept: 'text/event-stream' });
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const message = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const event = /^event: (.*)$/m.exec(message)?.[1];
      const data = JSON.parse(/^data: (.*)$/m.exec(message)?.[1] ?? '""') as string;
      if (event === 'log') process.stdout.write(data);
      if (event === 'error') throw new Error(`the log stream broke: ${data}`);
      if (event === 'end') return data;
    }
  }
  return 'gone';
}

export function runCommands(program: Command): void {
  program
    .command('runs')
    .description('list runs, newest first')
    .option('--repo <repo>', 'only this repository\'s (id or full name)')
    .option('--status <status>', 'only runs in this state')
    .option('--limit <n>', 'how many', positiveInt, 20)
    .option('--json', 'print JSON')
    .action(async (opts: { repo?: string; status?: string; limit: number; json?: boolean }) => {
      const query = new URLSearchParams({ limit: String(opts.limit), ...(opts.repo ? { repo: opts.repo } : {}), ...(opts.status ? { status: opts.status } : {}) });
      const { items } = await new ApiClient().json<{ items: RunItem[] }>('GET', `/api/runs?${query}`);
      if (opts.json) return printJson(items);
      printTable(['RUN', 'STATUS', 'PIPELINE', 'EVENT', 'BRANCH', 'SHA', 'CREATED'], items.map((r) => [
        r.id, r.status, r.pipeline, r.event, r.branch, r.sha.slice(0, 7), new Date(r.createdAt).toLocaleString(),
      ]));
    });

  program
    .command('logs <run> <stage>')
    .description('print a stage\'s log; --follow keeps printing until the stage ends')
    .option('-f, --follow', 'follow the log live, then exit 1 unless the stage succeeded or was skipped')
    .action(async (run: string, stage: string, opts: { follow?: boolean }) => {
      const client = new ApiClient();
      const apiPath = `/api/runs/${seg(positiveInt(run))}/stages/${seg(stage)}/log`;
      if (!opts.follow) {
        process.stdout.write(await (await client.fetch('GET', apiPath)).text());
        return;
      }
      const status = await followLog(client, apiPath);
      process.stderr.write(`stage ${stage}: ${status}\n`);
      if (status !== 'success' && status !== 'skipped') process.exitCode = 1;
    });

  program
    .command('approve <run> <stage>')
    .description('approve a waiting stage (a deployment, or a pull request from a fork), as the token\'s name')
    .action(async (run: string, stage: string) => {
      printJson(await new ApiClient().json('POST', `/api/runs/${seg(positiveInt(run))}/stages/${seg(stage)}/approve`));
    });

  program
    .command('cancel <run>')
    .description('cancel a run: its queued and waiting stages, and the process trees of its running ones')
    .action(async (run: string) => {
      printJson(await new ApiClient().json('POST', `/api/runs/${seg(positiveInt(run))}/cancel`));
    });

  program
    .command('rerun <run>')
    .description('run a finished run again (same id, next attempt), or one stage and its dependents')
    .option('--stage <name>', 'only this stage and the stages that need it')
    .action(async (run: string, opts: { stage?: string }) => {
      const base = `/api/runs/${seg(positiveInt(run))}`;
      printJson(await new ApiClient().json('POST', opts.stage ? `${base}/stages/${seg(opts.stage)}/rerun` : `${base}/rerun`));
    });

  program
    .command('trigger')
    .description('start pipelines with an on.manual trigger at a branch, tag or commit')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .requiredOption('--ref <ref>', 'branch, tag or commit id')
    .option('--pipeline <name>', 'only this pipeline')
    .option('--input <name=value>', 'an input (repeatable)', collect, [])
    .option('--json', 'print JSON (the default)')
    .action(async (opts: { repo: string; ref: string; pipeline?: string; input: string[] }) => {
      printJson(await new ApiClient().json('POST', '/api/trigger', { repo: opts.repo, ref: opts.ref, pipeline: opts.pipeline, inputs: inputsOf(opts.input) }));
    });
}

import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { crossFileProblems, parsePipelineFile, PIPELINE_DIR, PIPELINE_FILE, type Pipeline, type Problem } from '../pipelines/index.ts';

/** `forgeline validate`: every problem of the given files (default .forgeline/*.yml under `cwd`). */
export async function validateFiles(files: string[], cwd: string): Promise<{ files: string[]; problems: Problem[] }> {
  let list = files;
  if (list.length === 0) {
    const dir = path.join(cwd, PIPELINE_DIR);
    list = (await readdir(dir).catch(() => [] as string[])).filter((f) => PIPELINE_FILE.test(f)).sort().map((f) => path.join(PIPELINE_DIR, f));
    if (list.length === 0) throw new Error(`no pipeline files: ${dir}/*.yml does not exist`);
  }
  const problems: Problem[] = [];
  const pipelines: Pipeline[] = [];
  for (const file of list) {
    const content = await readFile(path.resolve(cwd, file), 'utf8');
    const parsed = parsePipelineFile(file, content);
    problems.push(...parsed.problems);
    if (parsed.pipeline) pipelines.push(parsed.pipeline);
  }
  problems.push(...crossFileProblems(pipelines));
  return { files: list, problems };
}

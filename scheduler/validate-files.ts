import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from './errors.ts';
import { crossFileProblems, parsePipelineFile, PIPELINE_DIR, PIPELINE_FILE, type Pipeline, type Problem } from '../pipelines/index.ts';

/** `forgeline validate`: every problem of the given files (default .forgeline/*.yml under `cwd`), in one pass. */
export async function validateFiles(files: string[], cwd: string): Promise<{ files: string[]; problems: Problem[] }> {
  let list = files;
  if (list.length === 0) {
    const dir = path.join(cwd, PIPELINE_DIR);
    list = (await readdir(dir).catch(() => [] as string[])).filter((f) => PIPELINE_FILE.test(f)).sort().map((f) => path.join(PIPELINE_DIR, f));
    if (list.length === 0) throw new InputError(`no pipeline files: ${dir}/*.yml does not exist (give --dir REPO, or the files)`);
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
  // One list in the order of the files and their lines, as an editor shows them.
  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
  return { files: list, problems };
}

import { link, open, readFile, rename, rm, stat } from 'node:fs/promises';

/** The pid written in a lock file, or null while its owner is still writing it. */
async function ownerOf(file: string): Promise<number | null> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes a lock left by a process that died holding it. The file is first
 * renamed aside, so that of two processes that both saw it stale only one
 * removes it; one that renamed a lock taken meanwhile by a live process puts it back.
 */
async function breakStale(file: string, stalePid: number | null): Promise<void> {
  const aside = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    await rename(file, aside);
  } catch {
    return;
  }
  if ((await ownerOf(aside)) !== stalePid) await link(aside, file).catch(() => {});
  await rm(aside, { force: true });
}

/**
 * Runs fn holding a lock file (created with O_EXCL, holding this process's
 * pid), so that processes sharing a data dir on one machine take turns, as
 * the fetches of one process already do. A lock whose process is gone is
 * taken over: a worker killed mid-fetch leaves no mirror locked.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await ownerOf(file);
    // A file with no pid in it for a while: its process died between creating and writing it.
    const stale = owner === null ? Date.now() - ((await stat(file).catch(() => null))?.mtimeMs ?? Date.now()) > 5000 : !alive(owner);
    if (stale) await breakStale(file, owner);
    else await new Promise((r) => setTimeout(r, wait));
  }
  try {
    return await fn();
  } finally {
    await rm(file, { force: true });
  }
}

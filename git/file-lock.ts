import { readlinkSync } from 'node:fs';
import { link, open, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';

// A lock whose owner cannot be asked (another machine or container on a shared data dir)
// is broken once its file has not been touched for this long: its holder touches it every
// minute. One that died between creating the file and writing it, sooner.
const UNASKABLE_STALE_MS = 5 * 60_000;
const TOUCH_EVERY_MS = 60_000;
const UNWRITTEN_STALE_MS = 5_000;

// Where a pid means something: the host, and the pid namespace (two containers on one host
// with the same host name each have a pid 1).
function pidSpace(): string {
  try {
    return `${hostname()}/${readlinkSync('/proc/self/ns/pid').replace(/\D/g, '')}`;
  } catch {
    return hostname();
  }
}
const SPACE = pidSpace();
const ME = `${process.pid} ${SPACE}`;

/** The owner written in a lock file: its pid and where that pid means something, or null while it is still being written. */
async function ownerOf(file: string): Promise<{ pid: number; space: string } | null> {
  const [pid, space] = (await readFile(file, 'utf8').catch(() => '')).trim().split(' ');
  const n = Number.parseInt(pid ?? '', 10);
  return Number.isInteger(n) && n > 0 && space ? { pid: n, space } : null;
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
 * Whether a lock file was left by a process that can no longer hold it. This
 * process's own pid counts as gone: its fetches take turns in memory first
 * (lock.ts), so a file naming it is a previous life's, as after a restart
 * in a container where the worker is always pid 1.
 */
async function stale(file: string): Promise<{ ino: number } | null> {
  const info = await stat(file).catch(() => null);
  if (!info) return null;
  const owner = await ownerOf(file);
  const age = Date.now() - info.mtimeMs;
  const gone = owner === null ? age > UNWRITTEN_STALE_MS
    : owner.space !== SPACE ? age > UNASKABLE_STALE_MS
      : owner.pid === process.pid || !alive(owner.pid);
  return gone ? { ino: info.ino } : null;
}

/**
 * Removes a stale lock file. It is renamed aside first and looked at again,
 * so that of two processes that both found it stale only one removes it, and
 * one that caught a lock taken meanwhile (another file, or a new one on the
 * same inode) puts it back.
 */
async function breakStale(file: string, ino: number): Promise<void> {
  const aside = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    await rename(file, aside);
  } catch {
    return;
  }
  if ((await stale(aside))?.ino !== ino) await link(aside, file).catch(() => {});
  await rm(aside, { force: true });
}

/**
 * Runs fn holding a lock file (created with O_EXCL, holding this process's
 * pid, host and pid namespace), so that processes sharing a data dir take turns, as the
 * fetches of one process already do. A lock whose process is gone is taken
 * over: a worker killed mid-fetch leaves no mirror locked.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${ME}\n`);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const gone = await stale(file);
    if (gone) await breakStale(file, gone.ino);
    else await new Promise((r) => setTimeout(r, wait));
  }
  // Touched while held, so that a process that cannot ask this one whether it lives sees it does.
  const touch = setInterval(() => void utimes(file, new Date(), new Date()).catch(() => {}), TOUCH_EVERY_MS);
  touch.unref();
  try {
    return await fn();
  } finally {
    clearInterval(touch);
    // Only its own: a lock broken as stale meanwhile (a fetch past UNASKABLE_STALE_MS) is another's now.
    const owner = await ownerOf(file);
    if (owner && `${owner.pid} ${owner.space}` === ME) await rm(file, { force: true });
  }
}

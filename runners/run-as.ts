import { execa } from 'execa';
import { lchown, readdir } from 'node:fs/promises';
import path from 'node:path';

export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
}

/** `--run-as USER` (or `--fork-run-as USER`): the user's ids, or an error that says what to do. */
export async function resolveUser(name: string, flag = '--run-as'): Promise<RunAsUser> {
  if (process.getuid?.() !== 0) throw new Error(`${flag} needs Forgeline to run as root (to switch to that user for each step)`);
  const uid = await execa('id', ['-u', name], { reject: false, cleanup: false });
  const gid = await execa('id', ['-g', name], { reject: false, cleanup: false });
  if (uid.exitCode !== 0 || gid.exitCode !== 0) throw new Error(`${flag} ${name}: no such user (create it first, e.g. useradd --system ${name})`);
  if (Number(uid.stdout) === 0) throw new Error(`${flag} root isolates nothing: name an unprivileged user`);
  return { name, uid: Number(uid.stdout), gid: Number(gid.stdout) };
}

/**
 * Gives a workspace to the step user, deepest entries first and the
 * directory itself last: until then it is root's (0700), so no process of
 * that user can swap an entry for a symlink while root walks it. lchown
 * throughout: links are never followed.
 */
export async function chownTree(dir: string, user: RunAsUser): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(p, user);
    else await lchown(p, user.uid, user.gid);
  }
  await lchown(dir, user.uid, user.gid);
}

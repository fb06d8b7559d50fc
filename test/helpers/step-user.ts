import { execa } from 'execa';

/** The tests run as root, like CI: each unprivileged step user is created once. */
export async function ensureUser(name: string): Promise<void> {
  if ((await execa('id', ['-u', name], { reject: false })).exitCode !== 0) {
    await execa('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  }
}

// A private Podman serving the Docker Engine API on a socket of its own, with
// its own configuration and storage (the machine's are never touched), and a
// busybox image built FROM scratch from Debian's busybox-static: no registry
// is reachable here. Bridges are made impossible (an empty CNI plugin folder).
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const TEST_IMAGE = 'localhost/forgeline-test/busybox:1';

/** Why the container tests cannot run here, or null. Under CI=true they always run (and fail loudly without an engine). */
export function engineMissing(): string | null {
  if (process.env.CI === 'true') return null;
  if (!existsSync('/usr/bin/podman')) return 'no Podman on this machine (apt install podman runc busybox-static)';
  if (!existsSync('/bin/busybox') && !existsSync('/usr/bin/busybox')) return 'no busybox-static to build the test image from';
  return null;
}

export interface TestEngine {
  /** DOCKER_HOST's form: unix:///…/podman.sock */
  host: string;
  image: string;
  /** The environment a `podman` command needs to use this engine's storage and configuration. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startPodman(): Promise<TestEngine> {
  const dir = await mkdtemp(path.join(tmpdir(), 'forgeline-podman-'));
  const cni = path.join(dir, 'cni');
  const service = path.join(dir, 'service');
  await Promise.all([cni, service, path.join(dir, 'image')].map((d) => mkdir(d, { recursive: true })));
  await writeFile(path.join(dir, 'containers.conf'), `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
[network]
network_backend = "cni"
cni_plugin_dirs = ["${cni}"]
`);
  await writeFile(path.join(dir, 'storage.conf'), `[storage]
driver = "vfs"
runroot = "${path.join(dir, 'run')}"
graphroot = "${path.join(dir, 'storage')}"
`);
  const env = { ...process.env, CONTAINERS_CONF: path.join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf') };
  const busybox = existsSync('/bin/busybox') ? '/bin/busybox' : '/usr/bin/busybox';
  await copyFile(busybox, path.join(dir, 'image', 'busybox'));
  await writeFile(path.join(dir, 'image', 'Containerfile'), 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n');
  await execa('podman', ['build', '--quiet', '--network', 'none', '-t', TEST_IMAGE, path.join(dir, 'image')], { env });
  const socket = path.join(dir, 'podman.sock');
  // From a folder of its own: conmon leaves files in the directory it inherits.
  const server = execa('podman', ['system', 'service', '--time=0', `unix://${socket}`], { env, cwd: service, reject: false });
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
  if (!existsSync(socket)) throw new Error('podman system service did not open its socket');
  return {
    host: `unix://${socket}`,
    image: TEST_IMAGE,
    env,
    async stop() {
      await execa('podman', ['rm', '--all', '--force'], { env, reject: false });
      server.kill();
      await server;
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
}

import { chmodSync, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { createCheckout } from '../git/index.ts';
import { withArchiveFile } from './archive-file.ts';
import { packArtifacts, unpackArtifacts } from './artifacts.ts';
import type { StageResult, StageSpec } from './backend.ts';
import { restoreCaches, saveCaches } from './caches.ts';
import type { StageOutcome } from './types.ts';
import { chownTree } from './run-as.ts';

export interface Workspace {
  /** `<workspaceRoot>/<id>`: removed whole afterwards. */
  root: string;
  /** The checkout the steps run in. */
  src: string;
  /** The steps' HOME. */
  home: string;
  /** Caches restored by their exact key: not saved again. */
  exactCaches: Set<string>;
}

/**
 * A stage's private workspace, whatever runs its steps: a checkout of the
 * commit (taken from planning's when there), a HOME beside it, the
 * artifacts of the stages it needs restored, all owned by the step user.
 */
export async function openWorkspace(spec: StageSpec): Promise<Workspace> {
  const root = path.join(spec.workspaceRoot, spec.id);
  const src = path.join(root, 'src');
  const home = path.join(root, 'home');
  // Closed to other users before anything is in it: a step of another stage cannot step in
  // early and keep a handle on it (it becomes its step user's below).
  mkdirSync(root, { recursive: true, mode: 0o700 });
  chmodSync(root, 0o700);
  if (spec.workdir) {
    // `forgeline exec`: the working tree as it is, never removed (it is outside root).
    const home = path.join(root, 'home');
    mkdirSync(home, { recursive: true, mode: 0o700 });
    return { root, src: spec.workdir, home, exactCaches: new Set() };
  }
  if (!spec.checkout) throw new Error('a stage needs a checkout or a working directory');
  // Planning may have made it already, while the stage's job was on its way.
  if (!(await spec.prepared?.take(spec.checkout, src))) await createCheckout(spec.checkout.mirror, spec.checkout.sha, src, { independent: spec.checkout.independent });
  // Synchronous: one tiny call, rather than a wait for a busy event loop's next turn.
  mkdirSync(home, { recursive: true, mode: 0o700 });
  for (const a of spec.restore) {
    await withArchiveFile(async (file) => {
      await a.fetch(file);
      await unpackArtifacts(file, src, { maxBytes: spec.artifactMaxBytes });
    });
    spec.log(`forgeline: restored ${a.files.length} artifact file(s) of ${a.stage}\n`);
  }
  const exactCaches = await restoreCaches(spec, src);
  if (spec.user) await chownTree(root, spec.user);
  return { root, src, home, exactCaches };
}

/** What a stage leaves after a success: its artifacts, packed for the stages that need it, and its caches, saved. */
export async function keepOutputs(spec: StageSpec, workspace: Workspace, outcome: StageOutcome): Promise<StageResult> {
  if (outcome.status !== 'success') return outcome;
  if (spec.keep.length) {
    await withArchiveFile(async (file) => {
      const packed = await packArtifacts(workspace.src, spec.keep, file, { maxBytes: spec.artifactMaxBytes });
      await spec.saveArtifacts?.(packed);
      spec.log(`forgeline: kept ${packed.files.length} artifact file(s), ${packed.bytes} bytes\n`);
    });
  }
  await saveCaches(spec, workspace.src, workspace.exactCaches);
  return outcome;
}

export async function closeWorkspace(workspace: Pick<Workspace, 'root'>): Promise<void> {
  await rm(workspace.root, { recursive: true, force: true }).catch(() => {});
}

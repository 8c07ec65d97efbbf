/**
 * Chains of incremental checkpoints: from a checkpoint back to the full one it was built on.
 * Every link is opened and validated (manifest checksum, sizes); each parent must be the very
 * checkpoint its child was made over (same `id`) and lay memory out the same way. A missing or
 * replaced parent is a CheckpointError naming it.
 */
import * as path from 'node:path';
import { CheckpointError } from '../errors/errors';
import { CheckpointReader } from './checkpoint-files';
import type { CheckpointManifest, ManifestRegion } from './manifest';

/** Longer chains are refused: restoring them reads every link, and a cycle must end somewhere. */
export const MAX_CHAIN_LENGTH = 256;

/** The parent directory a link names (its path is relative to the link's own directory). */
export function parentDirOf(linkDir: string, manifest: CheckpointManifest): string | null {
  const parent = manifest.memory.parent;
  return parent === null ? null : path.resolve(linkDir, parent.path);
}

function sameLayout(a: readonly ManifestRegion[], b: readonly ManifestRegion[]): boolean {
  const key = (r: ManifestRegion) => `${r.name}@${r.guestPhysAddr}+${r.size}:${r.fileOffset}`;
  return a.length === b.length && a.every((r, i) => key(r) === key(b[i]));
}

/**
 * The chain ending at `leaf`, base (full checkpoint) first. `missing` when a parent directory
 * or manifest is gone, `incompatible` when a parent was replaced by another checkpoint or lays
 * memory out differently, `corrupt` for a cycle or an over-long chain.
 */
export function resolveChain(leaf: CheckpointReader): CheckpointReader[] {
  const chain = [leaf];
  const seen = new Set([leaf.manifest.id]);
  for (let link = leaf; link.manifest.memory.parent !== null; ) {
    const expected = link.manifest.memory.parent;
    const dir = parentDirOf(link.dir, link.manifest)!;
    const child = `${link.dir}/manifest.json`;
    let parent: CheckpointReader;
    try {
      parent = CheckpointReader.open(dir);
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      throw new CheckpointError(dir, `is the parent checkpoint of ${link.dir} (memory.parent.path '${expected.path}'), and cannot be opened: ${e.message}`, { code: e.code, cause: e });
    }
    if (parent.manifest.id !== expected.id) {
      throw new CheckpointError(dir, `is not the parent ${link.dir} was made over: its id is ${parent.manifest.id}, ${child} expects ${expected.id} (the parent was replaced by another checkpoint)`, { code: 'incompatible' });
    }
    if (parent.manifest.memory.bytes !== link.manifest.memory.bytes || !sameLayout(parent.manifest.memory.regions, link.manifest.memory.regions)) {
      throw new CheckpointError(dir, `lays out guest memory differently from its child ${link.dir}`, { code: 'incompatible' });
    }
    if (seen.has(parent.manifest.id)) throw new CheckpointError(dir, 'appears twice in its own chain of parents', { code: 'corrupt' });
    if (chain.length >= MAX_CHAIN_LENGTH) throw new CheckpointError(leaf.dir, `has more than ${MAX_CHAIN_LENGTH} links: take a full checkpoint`, { code: 'corrupt' });
    seen.add(parent.manifest.id);
    chain.push(parent);
    link = parent;
  }
  return chain.reverse();
}

/** An incremental link's page map, checked against the manifest (size and SHA-256). */
export function readPageMap(link: CheckpointReader): Uint8Array {
  if (link.manifest.memory.parent === null) throw new CheckpointError(link.dir, 'is a full checkpoint, not an incremental link', { code: 'corrupt' });
  return link.pageMap();
}

/**
 * Prebuilt guests: packages/arch-x86/guests/prebuilt/<name>.bin + <name>.json, committed so that a
 * machine without binutils can still run the KVM suites. `writePrebuiltGuest` regenerates them;
 * a test checks each one still equals what its source assembles to.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assembleGuest, guestSourcePath, listGuests, sha256, toImage } from './assemble';
import { GuestBuildError, PREBUILT_DIR, type GuestImage, type PrebuiltManifest } from './guest-image';

export function loadPrebuiltGuest(name: string): GuestImage {
  const base = path.join(PREBUILT_DIR, name);
  let manifest: PrebuiltManifest;
  let bytes: Uint8Array;
  try {
    manifest = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as PrebuiltManifest;
    bytes = new Uint8Array(fs.readFileSync(`${base}.bin`));
  } catch (err) {
    throw new GuestBuildError('not-found', name, `no prebuilt copy at ${base}.{bin,json}`, { cause: err });
  }
  return toImage(name, manifest.loadAddress, bytes, manifest.symbols);
}

/** Assembles `name` from source and writes its prebuilt copy. Returns the manifest written. */
export function writePrebuiltGuest(name: string): PrebuiltManifest {
  const image = assembleGuest(name, { cacheDir: null });
  const manifest: PrebuiltManifest = {
    name,
    loadAddress: image.loadAddress,
    entry: image.entry,
    sourceSha256: sha256(fs.readFileSync(guestSourcePath(name))),
    symbols: Object.fromEntries(image.symbols),
  };
  fs.mkdirSync(PREBUILT_DIR, { recursive: true });
  fs.writeFileSync(path.join(PREBUILT_DIR, `${name}.bin`), image.bytes);
  fs.writeFileSync(path.join(PREBUILT_DIR, `${name}.json`), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Regenerates every prebuilt guest: `node packages/arch-x86/dist/guest/prebuilt.js`. */
export function writeAllPrebuiltGuests(): PrebuiltManifest[] {
  return listGuests().map(writePrebuiltGuest);
}

if (require.main === module) {
  for (const m of writeAllPrebuiltGuests()) {
    process.stdout.write(`${m.name}: ${Object.keys(m.symbols).length} symbols, entry 0x${m.entry.toString(16)}\n`);
  }
}

'use strict';
/**
 * What the runner builds for the guest architecture on the host: the @kvmts/native addon and
 * the tiny guest programs in scripts/nested/guest-asm/<arch>/*.s (assembled with binutils,
 * flattened with objcopy; tests read them from $KVMTS_GUEST_ASM/<name>.bin).
 */
const fs = require('fs');
const path = require('path');
const { NestedError, log, sh, hashOf, mkdirp } = require('./util');

const ASM_ROOT = path.join(__dirname, '..', 'guest-asm');
const ADDON = 'build/Release/kvmts_native.node';

function filesUnder(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : [p];
  }).sort();
}

/**
 * Returns the guest-arch addon path. x86: the host build (built first if absent). Other arches:
 * cross-compiled with cmake-js and the cross g++ into the cache, keyed by the sources' hash.
 */
function buildNative(repo, cacheDir, cross) {
  const pkg = path.join(repo, 'packages', 'native');
  if (!cross) {
    const addon = path.join(pkg, ADDON);
    if (!fs.existsSync(addon)) {
      log('building @kvmts/native for the host');
      sh('npx', ['cmake-js', 'compile', '--out', 'build'], { cwd: pkg });
    }
    return addon;
  }
  const sources = [path.join(pkg, 'CMakeLists.txt'), ...filesUnder(path.join(pkg, 'native'))];
  const key = hashOf([cross.arch, ...sources.map((f) => path.relative(pkg, f)), ...sources.map((file) => ({ file }))]);
  const out = path.join(cacheDir, `native-${cross.arch}`, key);
  const addon = path.join(out, 'Release', 'kvmts_native.node');
  if (fs.existsSync(addon)) return addon;
  const t0 = Date.now();
  fs.rmSync(out, { recursive: true, force: true });
  sh('npx', ['cmake-js', 'compile', '--log-level', 'warn', '--arch', cross.arch, '--cxx', cross.cxx,
    '--CDCMAKE_SYSTEM_NAME=Linux', `--CDCMAKE_SYSTEM_PROCESSOR=${cross.processor}`, '--out', out], { cwd: pkg, capture: true });
  if (!fs.existsSync(addon)) throw new NestedError('cross build', `${addon} was not produced`);
  log(`@kvmts/native cross-built for ${cross.arch} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return addon;
}

/** Assembles scripts/nested/guest-asm/<arch>/*.s into flat binaries in outDir. */
function assembleGuests(arch, tools, outDir) {
  mkdirp(outDir);
  const made = [];
  for (const src of filesUnder(path.join(ASM_ROOT, arch)).filter((f) => f.endsWith('.s'))) {
    const base = path.join(outDir, path.basename(src, '.s'));
    // -I: a guest may .include the shared macros beside it (*.inc files are not assembled alone).
    sh(tools.as, ['-I', path.dirname(src), '-o', `${base}.o`, src], { capture: true });
    sh(tools.objcopy, ['-O', 'binary', `${base}.o`, `${base}.bin`], { capture: true });
    fs.rmSync(`${base}.o`);
    made.push(`${path.basename(base)}.bin`);
  }
  return made;
}

module.exports = { buildNative, assembleGuests, ADDON };

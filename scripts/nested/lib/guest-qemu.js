'use strict';
/**
 * QEMU for the emulated host itself (a guest-arch QEMU that runs *inside* the L1 on its KVM,
 * e.g. the baseline of `npm run bench -- boot`): the tier's Debian QEMU package and its
 * shared-library closure, downloaded with apt for the guest's architecture, unpacked into one
 * tree in the cache and shared into the guest read-only. Only when a run asks for it
 * (KVMTS_NESTED_GUEST_QEMU=1): it is ~40 MB that no test needs.
 *
 * The guest runs it with LD_LIBRARY_PATH set to the tree's library directories
 * (guestQemuEnv); the guest's own libc6/libstdc++6/libgcc-s1 (its initramfs) serve the rest.
 */
const fs = require('fs');
const path = require('path');
const { NestedError, log, sh, hashOf, mkdirp, copyTree } = require('./util');
const fetch = require('./fetch');
const { libraryClosure, missingSonames, parseNeeded, splitQualified } = require('./apt-closure');

/** Where init.sh mounts the share, and the 9p tag. */
const GUEST_MOUNT = '/opt/kvmts-qemu';
const SHARE_TAG = 'qemu';

/** `apt-cache depends` with only the relations a program needs at run time. */
function aptDepends(names) {
  return sh('apt-cache', ['depends', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks',
    '--no-replaces', '--no-enhances', ...names], { capture: true });
}

/** Every file name (regular or symlink) in the library directories of `trees`. */
function sonamesIn(trees, libDirs) {
  const names = new Set();
  for (const t of trees) {
    for (const d of libDirs) {
      const dir = path.join(t, d);
      if (fs.existsSync(dir)) for (const f of fs.readdirSync(dir)) names.add(f);
    }
  }
  return names;
}

/** The program and every shared object under the tree's library directories, with their DT_NEEDED. */
function elfNeeds(tree, spec) {
  const files = [path.join(tree, spec.binary)];
  for (const d of spec.libDirs) {
    const dir = path.join(tree, d);
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) {
      const p = path.join(dir, f);
      if (/\.so(\.\d+)*$/.test(f) && fs.lstatSync(p).isFile()) files.push(p);
    }
  }
  return files.map((file) => ({ file: path.relative(tree, file), needed: parseNeeded(sh('readelf', ['-d', file], { capture: true })) }));
}

/**
 * Downloads and unpacks the tier's guest QEMU (tier.guestQemu) once; returns
 * `{ tree, binary, libDirs, packages }` with host paths. Throws NestedError naming any soname
 * neither the tree nor the guest's own libraries provide.
 * @param guestLibTrees unpacked Debian packages the guest's initramfs already holds
 */
function prepareGuestQemu(cacheDir, tier, guestLibTrees) {
  const spec = tier.guestQemu;
  if (!spec) throw new NestedError('guest QEMU', `the ${tier.tier} tier has no QEMU for its emulated host (tiers.js guestQemu)`);
  if (spec.kind === 'host') return prepareHostQemu(cacheDir, spec, sonamesIn(guestLibTrees, ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu']));
  fetch.ensureAptArch(tier.debArch);
  const guestHas = new Set(tier.guestDebs.map((s) => splitQualified(s).base));
  const packages = libraryClosure(`${spec.package}:${tier.debArch}`, { arch: tier.debArch, guestHas, lookup: aptDepends });
  const debs = fetch.fetchDebs(cacheDir, packages, tier.debArch);
  const tree = path.join(cacheDir, 'guest-qemu', `${tier.tier}-${hashOf(debs.map((d) => path.basename(d)))}`);
  if (!fs.existsSync(path.join(tree, '.done'))) {
    fs.rmSync(tree, { recursive: true, force: true });
    mkdirp(tree);
    for (const deb of debs) {
      const x = fetch.extractDeb(cacheDir, deb);
      for (const e of fs.readdirSync(x)) if (e !== '.done') copyTree(path.join(x, e), path.join(tree, e));
    }
    // usr/share (docs, man pages) is not needed to run the program.
    fs.rmSync(path.join(tree, 'usr', 'share'), { recursive: true, force: true });
    const provided = sonamesIn([tree, ...guestLibTrees], spec.libDirs);
    const missing = missingSonames(elfNeeds(tree, spec), provided);
    if (missing.length) {
      throw new NestedError('guest QEMU', `no package of the closure provides ${missing.map((m) => `${m.soname} (needed by ${m.by})`).join(', ')}`);
    }
    fs.writeFileSync(path.join(tree, '.done'), '');
    log(`guest QEMU: ${packages.length} packages unpacked into ${tree}`);
  }
  return { tree, binary: spec.binary, libDirs: spec.libDirs, packages };
}

/**
 * A same-arch tier (x86 on this x86 machine): the host's own installed QEMU, copied with every
 * library `ldd` names (each at its absolute path inside the tree) and its firmware and data
 * directories (symlinks followed: Debian's /usr/share/qemu links into /usr/share/seabios, which
 * the guest has not). The libraries the guest's initramfs has (glibc, libstdc++: Debian's, which
 * its own loader belongs to) are left to it. Keyed by the binary's size and time, so a host QEMU update makes a new tree.
 */
function prepareHostQemu(cacheDir, spec, guestHas) {
  const found = sh('sh', ['-c', 'command -v "$1"', 'which', spec.program], { capture: true }).trim();
  const bin = fs.realpathSync(found);
  const st = fs.statSync(bin);
  const tree = path.join(cacheDir, 'guest-qemu', `host-${hashOf([bin, st.size, st.mtimeMs, ...spec.dataDirs])}`);
  const binary = path.posix.join('usr/bin', path.basename(found));
  const libDirs = ['lib', 'usr/lib'];
  if (!fs.existsSync(path.join(tree, '.done'))) {
    fs.rmSync(tree, { recursive: true, force: true });
    const copy = (src, rel) => {
      mkdirp(path.dirname(path.join(tree, rel)));
      fs.copyFileSync(fs.realpathSync(src), path.join(tree, rel));
      fs.chmodSync(path.join(tree, rel), fs.statSync(src).mode & 0o777);
    };
    copy(bin, binary);
    for (const line of sh('ldd', [bin], { capture: true }).split('\n')) {
      const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
      // Flattened into one directory per root: LD_LIBRARY_PATH then names two directories.
      if (m && !guestHas.has(path.basename(m[1]))) copy(m[1], path.join(m[1].startsWith('/usr/') ? 'usr/lib' : 'lib', path.basename(m[1])));
    }
    for (const d of spec.dataDirs) fs.cpSync(d, path.join(tree, d), { recursive: true, dereference: true });
    fs.writeFileSync(path.join(tree, '.done'), '');
    log(`guest QEMU: the host's ${found} with its libraries copied into ${tree}`);
  }
  return { tree, binary, libDirs, packages: [] };
}

/** The run.env lines that tell the guest's init where the QEMU share is mounted. */
function guestQemuEnv(q) {
  return {
    KVMTS_GUEST_QEMU: path.posix.join(GUEST_MOUNT, q.binary),
    KVMTS_GUEST_QEMU_LIBS: q.libDirs.map((d) => path.posix.join(GUEST_MOUNT, d)).join(':'),
  };
}

module.exports = { prepareGuestQemu, guestQemuEnv, GUEST_MOUNT, SHARE_TAG };

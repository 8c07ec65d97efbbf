'use strict';
/**
 * Which QEMU runs a tier's emulated hosts. A tier lists its builds (lib/tiers.js, qemu.builds):
 *   { kind: 'system' }  the host's own package (tier.qemu.bin on the PATH)
 *   { kind: 'apt', source, packages, dataDirs, moduleDir }  Debian packages fetched with a
 *       private apt (lib/private-apt.js) and only unpacked into the nested cache — the host's
 *       QEMU stays as it is, so runs on either build can share the machine.
 * KVMTS_NESTED_QEMU names the build; unset, the tier's qemu.defaultBuild.
 */
const fs = require('fs');
const path = require('path');
const { NestedError, log, sh, tryCapture, mkdirp } = require('./util');
const { privateApt, dependsNames } = require('./private-apt');
const fetch = require('./fetch');

/** "QEMU emulator version 10.0.2 (Debian ...)" → "10.0.2". */
function qemuVersion(bin, env) {
  const out = tryCapture(bin, ['--version'], { env: { ...process.env, ...env } });
  const m = out && /QEMU emulator version (\d+\.\d+\.\d+)/.exec(out);
  if (!m) throw new NestedError('qemu --version', `${bin} did not report a QEMU version${out ? `: ${out.split('\n')[0]}` : ' (does it run?)'}`);
  return m[1];
}

/** Libraries the dynamic linker cannot find for a binary (ldd's "not found" lines). */
function missingLibraries(bin) {
  const out = tryCapture('ldd', [bin]) ?? '';
  return out.split('\n').filter((l) => l.includes('not found')).map((l) => l.trim().split(/\s/)[0]);
}

/**
 * The unpacked tree of an apt build: fetched and unpacked once per package version, reused
 * after that (offline too: when the package lists cannot be refreshed, the newest unpacked
 * tree of this build is used).
 */
function aptBuildRoot(cacheDir, name, build, qemuBin) {
  const apt = privateApt(cacheDir, build.source);
  // Per build and binary: two tiers' builds of one name (backports) are different packages.
  const base = mkdirp(path.join(cacheDir, 'qemu', name, path.basename(qemuBin)));
  const ready = (dir) => fs.existsSync(path.join(dir, '.done'));
  let info = null;
  try {
    apt.update();
    info = apt.show(build.packages[0]);
  } catch (e) {
    const have = fs.readdirSync(base).filter((d) => ready(path.join(base, d))).sort();
    if (!have.length) throw e;
    log(`${build.source.line}: ${e.message.split('\n')[0]}; using the unpacked ${have[have.length - 1]}`);
    return path.join(base, have[have.length - 1], 'root');
  }
  if (!info) throw new NestedError('apt-cache show', `${build.packages[0]} is not in ${build.source.line}`);
  const dir = path.join(base, info.version.replace(/[^\w.+~-]/g, '_'));
  const root = path.join(dir, 'root');
  if (ready(dir)) return root;

  // Its libraries are ordinary packages of the host's release: installed the usual way
  // (harmless to the host's QEMU); the build's own packages are not installed, only unpacked.
  fetch.ensureHostPackages(dependsNames(info.depends).filter((p) => !build.packages.includes(p)));
  fs.rmSync(dir, { recursive: true, force: true });
  const debDir = path.join(dir, 'debs');
  apt.download(build.packages.map((p) => `${p}/${build.source.suite}`), debDir);
  const debs = fs.readdirSync(debDir).filter((f) => f.endsWith('.deb'));
  for (const p of build.packages) {
    if (!debs.some((f) => f.startsWith(`${p}_`))) throw new NestedError('apt-get download', `${p}/${build.source.suite}: no .deb in ${debDir}`);
  }
  mkdirp(root);
  for (const f of debs) sh('dpkg-deb', ['-x', path.join(debDir, f), root]);
  const missing = missingLibraries(path.join(root, qemuBin));
  if (missing.length) throw new NestedError(name, `${qemuBin} from ${build.source.suite} needs libraries the host lacks: ${missing.join(', ')}`);
  fs.rmSync(debDir, { recursive: true, force: true }); // unpacked: the .debs are not needed again
  fs.writeFileSync(path.join(dir, '.done'), `${info.version}\n`);
  return root;
}

/**
 * @returns {name, bin, args, env, version, label}: the binary, the arguments that point it at
 *          its own firmware and data, the environment to start it with, and its version.
 */
function resolveQemu(cacheDir, tier, requested = process.env.KVMTS_NESTED_QEMU) {
  const builds = tier.qemu.builds;
  const name = requested || tier.qemu.defaultBuild;
  const build = builds[name];
  if (!build) throw new NestedError('KVMTS_NESTED_QEMU', `${tier.tier} has no QEMU build "${name}" (known: ${Object.keys(builds).join(', ')})`);
  if (build.kind === 'system') {
    const version = qemuVersion(tier.qemu.bin, {});
    return { name, bin: tier.qemu.bin, args: [], env: {}, version, label: `QEMU ${version} (${name})` };
  }
  const root = aptBuildRoot(cacheDir, name, build, path.join('usr', 'bin', tier.qemu.bin));
  const bin = path.join(root, 'usr', 'bin', tier.qemu.bin);
  // Its own data and firmware first (-L), then the compiled-in paths, which are the host's:
  // the host's QEMU data is for another version. Its own loadable modules, never the host's.
  const args = build.dataDirs.flatMap((d) => ['-L', path.join(root, d)]);
  const env = { QEMU_MODULE_DIR: path.join(root, build.moduleDir) };
  const version = qemuVersion(bin, env);
  return { name, bin, args, env, version, label: `QEMU ${version} (${name})` };
}

module.exports = { resolveQemu, qemuVersion, missingLibraries };

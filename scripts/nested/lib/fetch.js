'use strict';
/**
 * Host tools and guest material: Debian packages (apt-get install / apt-get download) and npm
 * tarballs (npm pack). Everything downloaded lands in the cache and is reused: a second run
 * with a warm cache downloads nothing.
 */
const fs = require('fs');
const path = require('path');
const { NestedError, log, sh, tryCapture, mkdirp } = require('./util');

function isInstalled(pkg) {
  const out = tryCapture('dpkg-query', ['-W', '-f=${Status}', pkg]);
  return out !== null && out.includes('install ok installed');
}

let aptUpdated = false;
function aptUpdate() {
  if (aptUpdated) return;
  log('apt-get update');
  sh('apt-get', ['update', '-qq']);
  aptUpdated = true;
}

/** Installs the missing host packages; a no-op (no apt call at all) when all are present. */
function ensureHostPackages(pkgs) {
  const missing = pkgs.filter((p) => !isInstalled(p));
  if (missing.length === 0) return;
  log(`apt-get install ${missing.join(' ')}`);
  const args = ['install', '-y', '-qq', '--no-install-recommends', ...missing];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try { sh('apt-get', args, { env }); } catch { aptUpdate(); sh('apt-get', args, { env }); }
}

/** Makes apt know a foreign architecture (needed to download its packages). */
function ensureAptArch(debArch) {
  const native = sh('dpkg', ['--print-architecture'], { capture: true }).trim();
  if (debArch === native) return;
  const foreign = sh('dpkg', ['--print-foreign-architectures'], { capture: true }).split(/\s+/);
  if (foreign.includes(debArch)) return;
  log(`dpkg --add-architecture ${debArch}`);
  sh('dpkg', ['--add-architecture', debArch]);
  aptUpdated = false;
  aptUpdate();
}

function splitSpec(spec, defaultArch) {
  const [name, arch] = spec.split(':');
  return { name, arch: arch ?? defaultArch };
}

function cachedDeb(debDir, name, arch) {
  if (!fs.existsSync(debDir)) return null;
  const hits = fs.readdirSync(debDir).filter((f) => f.startsWith(`${name}_`) && f.endsWith(`_${arch}.deb`)).sort();
  return hits.length ? path.join(debDir, hits[hits.length - 1]) : null;
}

/**
 * Returns the cached .deb path for each spec ("name" or "name:arch"), downloading only the
 * missing ones with `apt-get download`.
 */
function fetchDebs(cacheDir, specs, hostArch) {
  const debDir = mkdirp(path.join(cacheDir, 'debs'));
  const want = specs.map((s) => ({ spec: s, ...splitSpec(s, hostArch) }));
  const missing = want.filter((w) => !cachedDeb(debDir, w.name, w.arch));
  if (missing.length) {
    for (const a of new Set(missing.map((m) => m.arch))) ensureAptArch(a);
    const specsToGet = missing.map((m) => `${m.name}:${m.arch}`);
    log(`apt-get download ${specsToGet.join(' ')}`);
    try { sh('apt-get', ['download', '-qq', '-o', 'APT::Sandbox::User=root', ...specsToGet], { cwd: debDir }); } catch { aptUpdate(); sh('apt-get', ['download', '-qq', '-o', 'APT::Sandbox::User=root', ...specsToGet], { cwd: debDir }); }
  }
  return want.map((w) => {
    const f = cachedDeb(debDir, w.name, w.arch);
    if (!f) throw new NestedError('apt-get download', `${w.spec} not found after download`);
    return f;
  });
}

/**
 * The kernel package for a tier: the dependency of the kernel metapackage, else the newest cached
 * one (offline reruns), else the pinned fallback.
 */
function resolveKernelPackage(cacheDir, tier, hostArch) {
  const { name: meta, arch } = splitSpec(tier.kernelMeta, hostArch);
  const fromApt = () => {
    const out = tryCapture('apt-cache', ['depends', `${meta}:${arch}`]);
    const m = out && /Depends:\s*(linux-image-[^\s:]+)/.exec(out);
    return m ? m[1] : null;
  };
  let name = fromApt();
  if (!name) {
    const debDir = path.join(cacheDir, 'debs');
    const cached = fs.existsSync(debDir)
      ? fs.readdirSync(debDir).filter((f) => /^linux-image-\d.*_/.test(f) && f.endsWith(`_${arch}.deb`)).sort() : [];
    if (cached.length) name = cached[cached.length - 1].split('_')[0];
  }
  if (!name) { ensureAptArch(arch); name = fromApt(); }
  return `${name ?? tier.kernelFallback}:${arch}`;
}

/** Unpacks a .deb once into the cache; returns the directory. */
function extractDeb(cacheDir, deb) {
  const dir = path.join(cacheDir, 'x', path.basename(deb, '.deb'));
  if (!fs.existsSync(path.join(dir, '.done'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    mkdirp(dir);
    sh('dpkg', ['-x', deb, dir]);
    fs.writeFileSync(path.join(dir, '.done'), '');
  }
  return dir;
}

/**
 * Fetches an npm package tarball with `npm pack` (no install, no scripts) and unpacks it once;
 * returns the unpacked package directory.
 */
function fetchNpm(cacheDir, spec) {
  const dir = path.join(cacheDir, 'npm', spec.replace(/[/@]/g, '_'));
  const pkgDir = path.join(dir, 'package');
  if (fs.existsSync(path.join(dir, '.done'))) return pkgDir;
  fs.rmSync(dir, { recursive: true, force: true });
  mkdirp(dir);
  log(`npm pack ${spec}`);
  // cwd outside the repo: npm must not apply the workspace configuration.
  const out = sh('npm', ['pack', spec, '--json', '--silent', '--pack-destination', dir], { cwd: dir, capture: true });
  const tgz = path.join(dir, JSON.parse(out)[0].filename.replace(/^@/, '').replace('/', '-'));
  sh('tar', ['-xzf', tgz, '-C', dir]);
  fs.rmSync(tgz);
  fs.writeFileSync(path.join(dir, '.done'), '');
  return pkgDir;
}

module.exports = { ensureHostPackages, ensureAptArch, fetchDebs, resolveKernelPackage, extractDeb, fetchNpm, isInstalled };

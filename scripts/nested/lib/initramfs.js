'use strict';
/**
 * The guest's initramfs: busybox, /init, kernel modules and Node — everything that does not
 * change from run to run (the repo comes in over 9p). Packed with the x86 busybox's cpio (the
 * machine has no cpio(1)) and cached by a hash of its inputs.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { log, sh, hashOf, mkdirp, copyTree } = require('./util');

const INIT = path.join(__dirname, '..', 'guest', 'init.sh');

/** A host program by name: {name, real path}; `which` decides, as it would for the tests. */
function whichTool(name) {
  const found = sh('sh', ['-c', 'command -v "$1"', 'which', name], { capture: true }).trim();
  return { name, real: fs.realpathSync(found), toString: () => found };
}

/** Copies an executable and every shared library `ldd` names, each to the same absolute path. */
function addHostBinaryWithLibs(root, bin, dest) {
  const file = typeof bin === 'string' ? bin : bin.real;
  copyFile(file, path.join(root, dest));
  const out = sh('ldd', [file], { capture: true });
  for (const line of out.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) copyFile(m[1], path.join(root, m[1]));
  }
}

function copyFile(src, dst) {
  mkdirp(path.dirname(dst));
  fs.copyFileSync(fs.realpathSync(src), dst);
  fs.chmodSync(dst, fs.statSync(src).mode & 0o777);
}

/**
 * @param o.cacheDir cache root
 * @param o.name tier name (file name prefix)
 * @param o.busybox guest-arch busybox binary; o.hostBusybox the x86 one used for cpio
 * @param o.modules [{name, file, params}] in load order
 * @param o.libTrees unpacked Debian packages (libc6, ...) merged into the root
 * @param o.hostTools names of host programs to copy in (same-arch tiers only)
 * @param o.node {kind:'host'} (this node binary, plus what ldd names) or {kind:'npm', binary}
 * @returns path of the .cpio
 */
function buildInitramfs(o) {
  const nodeId = o.node.kind === 'host'
    ? [process.execPath, fs.statSync(process.execPath).size, fs.statSync(process.execPath).mtimeMs]
    : [o.node.binary];
  const hostTools = (o.hostTools ?? []).map(whichTool);
  const key = hashOf([...hostTools.map((t) => `${t.name} ${t.real} ${fs.statSync(t.real).size}`), o.name, { file: INIT }, o.busybox, ...o.modules.map((m) => `${m.file} ${m.params}`), ...o.libTrees, ...nodeId]);
  const out = path.join(mkdirp(path.join(o.cacheDir, 'initrd')), `${o.name}-${key}.cpio`);
  if (fs.existsSync(out)) return out;

  const t0 = Date.now();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `kvmts-${o.name}-root-`));
  try {
    fs.chmodSync(root, 0o755); // mkdtemp made it 0700: "/" must be traversable for every uid
    for (const d of ['bin', 'dev', 'etc', 'lib/modules', 'proc', 'sys', 'tmp', 'usr/bin']) mkdirp(path.join(root, d));
    copyFile(INIT, path.join(root, 'init'));
    fs.chmodSync(path.join(root, 'init'), 0o755);
    copyFile(o.busybox, path.join(root, 'bin/busybox'));
    // Init's console before devtmpfs is mounted (the kernel opens /dev/console for PID 1).
    try { sh('mknod', ['-m', '600', path.join(root, 'dev/console'), 'c', '5', '1']); } catch { /* built-in rootfs has one */ }
    for (const m of o.modules) copyFile(m.file, path.join(root, 'lib/modules', `${m.name}.ko`));
    fs.writeFileSync(path.join(root, 'etc/kvmts-modules'), o.modules.map((m) => `${m.name}.ko ${m.params.join(' ')}\n`).join(''));
    fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/tmp:/bin/sh\n');
    fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\n');
    fs.writeFileSync(path.join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
    // Debian's runtime libraries, unpacked as they would be installed (docs left out).
    for (const t of o.libTrees) {
      for (const e of fs.readdirSync(t)) {
        if (e === '.done') continue;
        if (e === 'usr') {
          for (const u of fs.readdirSync(path.join(t, 'usr'))) if (u !== 'share') copyTree(path.join(t, 'usr', u), path.join(root, 'usr', u));
        } else copyTree(path.join(t, e), path.join(root, e));
      }
    }
    if (o.node.kind === 'host') addHostBinaryWithLibs(root, process.execPath, 'usr/bin/node');
    else copyFile(o.node.binary, path.join(root, 'usr/bin/node'));
    for (const t of hostTools) addHostBinaryWithLibs(root, t, path.join('usr/bin', t.name));
    const tmp = `${out}.tmp-${process.pid}`;
    sh('sh', ['-c', `cd "$1" && find . | "$2" cpio -o -H newc > "$3"`, 'pack', root, o.hostBusybox, tmp]);
    fs.renameSync(tmp, out);
    // One image per tier is enough: older ones (other inputs) would only fill the cache.
    for (const f of fs.readdirSync(path.dirname(out))) {
      if (f.startsWith(`${o.name}-`) && f !== path.basename(out) && !f.includes('.tmp-')) fs.rmSync(path.join(path.dirname(out), f), { force: true });
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  log(`initramfs ${path.basename(out)} (${(fs.statSync(out).size / 1e6).toFixed(0)} MB) packed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}

module.exports = { buildInitramfs };

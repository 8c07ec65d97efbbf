#!/usr/bin/env node
/**
 * `npm start`: the demo guest (`kvmts run`) on this machine's KVM. Where /dev/kvm cannot be
 * opened read-write (no KVM module, a host whose kvm_pvm refuses to bind, no permission), it
 * says so in one line and runs the same command inside an emulated x86-64 host that has a KVM
 * of its own — the nested x86 test tier's machinery (QEMU from apt, Debian's kernel, cached in
 * ~/.cache/kvmts) — instead of failing. Extra arguments go to `kvmts run`.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const REPO = path.resolve(__dirname, '..');
const CLI = path.join('packages', 'cli', 'dist', 'bin.js');
const args = process.argv.slice(2);

/** Why /dev/kvm cannot be used here, or undefined when it can. */
function kvmUnusable() {
  try {
    fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
    return undefined;
  } catch (err) {
    return err.code === 'ENOENT' ? 'there is no /dev/kvm' : `/dev/kvm cannot be opened (${err.code})`;
  }
}

function run(cmd, cmdArgs, env) {
  const r = spawnSync(cmd, cmdArgs, { cwd: REPO, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

const why = process.env.KVMTS_START_NESTED === '1' ? 'KVMTS_START_NESTED=1' : kvmUnusable();
if (why === undefined) {
  process.exitCode = run(process.execPath, [CLI, 'run', ...args]);
} else {
  const quoted = [CLI, 'run', ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  process.stderr.write(`kvmts: ${why} on this machine, so the demo runs inside an emulated x86-64 host with a KVM of its own (QEMU; a minute or two, longer the first time while it fetches QEMU and a kernel)\n`);
  process.exitCode = run(process.execPath, [path.join('scripts', 'nested', 'run.js'), 'x86'], {
    KVMTS_NESTED_CMD: `node ${quoted}`,
    KVMTS_NESTED_SHARDS: '1',
  });
}

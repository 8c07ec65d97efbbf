'use strict';
/**
 * Where a boot probe (boot-memory.js, boot-startup.js) runs: here when this host can run the
 * arch's guest (its own arch and a /dev/kvm that opens), else as the same command inside the
 * arch's nested tier, as the boot benchmark does itself.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { BenchError } = require('./errors');

const REPO = path.resolve(__dirname, '..', '..', '..');

/** Whether this host runs `spec`'s guests itself (boot.js ARCHES entry). */
function canRunHere(spec) {
  if (process.arch !== spec.nodeArch) return false;
  try {
    fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Run `inner` (a command line, from the repository's root) in the nested tier of `arch` (`spec`), one emulated
 * host, with a timeout for `boots` guest boots; resolves to the run's exit code. `name` says who
 * asks (its notice, and the error inside a nested host).
 */
async function runInNestedTier(name, arch, spec, inner, boots, say) {
  if (process.env.KVMTS_NESTED) throw new BenchError('no usable /dev/kvm, and this is already the nested host');
  const env = { ...process.env, KVMTS_NESTED_CMD: inner, KVMTS_NESTED_SHARDS: '1',
    ...(spec.nestedL1 && !process.env.KVMTS_NESTED_L1 ? { KVMTS_NESTED_L1: spec.nestedL1 } : {}),
    KVMTS_NESTED_TIMEOUT: process.env.KVMTS_NESTED_TIMEOUT || String(300 + boots * 120) };
  say(`${name}: this host cannot run the ${arch} guest, so it runs inside the nested ${spec.nestedTier} host`);
  const child = spawn(process.execPath, [path.join(REPO, 'scripts', 'nested', 'run.js'), spec.nestedTier], { cwd: REPO, env, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, signal) => resolve(c ?? signal));
  });
}

module.exports = { canRunHere, runInNestedTier, REPO };

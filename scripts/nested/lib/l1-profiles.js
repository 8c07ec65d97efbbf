'use strict';
/**
 * A tier's emulated host (L1) can be run in another set-up than its default one: a profile
 * (lib/tiers.js, qemu.profiles) replaces the TCG accelerator options of the tier's QEMU
 * arguments, e.g. multi-threaded TCG. KVMTS_NESTED_L1=<profile> picks one for a whole run
 * (docs/testing.md, "Linux as an L2 guest": how L2 kernels boot in each).
 */
const { NestedError } = require('./util');

/** The tier's L1 QEMU arguments under `profile` (undefined or '' = the tier's default). */
function l1Args(tier, profile) {
  if (!profile) return [...tier.qemu.args];
  const p = tier.qemu.profiles?.[profile];
  if (!p) throw new NestedError('KVMTS_NESTED_L1', `${tier.tier} has no L1 profile "${profile}" (known: ${Object.keys(tier.qemu.profiles ?? {}).join(', ') || 'none'})`);
  const args = [...tier.qemu.args];
  const at = args.indexOf('-accel');
  if (at < 0) throw new NestedError('KVMTS_NESTED_L1', `${tier.tier}'s QEMU arguments have no -accel for profile "${profile}" to replace`);
  args[at + 1] = p.accel;
  return args;
}

module.exports = { l1Args };

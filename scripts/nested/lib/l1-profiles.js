'use strict';
/**
 * A tier's emulated host (L1) can be run in another set-up than its default one: a profile
 * (lib/tiers.js, qemu.profiles) replaces the TCG accelerator options of the tier's QEMU
 * arguments, e.g. multi-threaded TCG. KVMTS_NESTED_L1=<profile> picks one for a whole run;
 * the tier's qemu.suiteProfiles give some test files an emulated host of their own with a
 * profile (the x86 Linux-boot suites: their L2 kernels need multi-threaded TCG to boot reliably).
 */
const path = require('path');
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

/**
 * Splits a tier's test files: each file a suite profile claims (its name matches the rule's
 * `files` pattern) goes to that profile's group, the rest stay for the ordinary shards.
 * @returns {{ rest: string[], groups: { profile: string, files: string[] }[] }}
 */
function splitBySuiteProfile(tier, files) {
  const rules = tier.qemu.suiteProfiles ?? [];
  const groups = new Map();
  const rest = [];
  for (const file of files) {
    const rule = rules.find((r) => r.files.test(path.basename(file)));
    if (!rule) {
      rest.push(file);
      continue;
    }
    if (!tier.qemu.profiles?.[rule.profile]) throw new NestedError('suiteProfiles', `${tier.tier}: ${rule.files} names no profile of the tier: "${rule.profile}"`);
    if (!groups.has(rule.profile)) groups.set(rule.profile, []);
    groups.get(rule.profile).push(file);
  }
  return { rest, groups: [...groups].map(([profile, fs]) => ({ profile, files: fs })) };
}

module.exports = { l1Args, splitBySuiteProfile };

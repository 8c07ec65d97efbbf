/**
 * What the CPU under a KVM test can deliver, when that CPU is itself emulated: the nested-x86
 * tier's L1 host runs on QEMU TCG (the L0), and some of QEMU's nested-SVM gaps decide which
 * KVM exits an L2 guest (ours) can ever produce. The runner passes the L0's version in
 * KVMTS_L0_QEMU_VERSION (scripts/nested/run.js).
 */

/** An L0 QEMU's nested-SVM limitation, and the first version measured without it. */
export interface L0Gap {
  readonly what: string;
  /** [major, minor]: the first QEMU release this project measured without the gap; null: none yet. */
  readonly fixedIn: readonly [number, number] | null;
}

/**
 * QEMU 7.2's VMRUN loads the VMCB's DR7 without arming TCG's breakpoints (upstream "target/i386:
 * disable/enable breakpoints on vmentry/vmexit", 2024), so DR0–DR3 never fire in L2. Measured
 * on 7.2.22 (present) and 10.0.2 (gone); releases between were not measured, so the gate
 * starts at 10.0.
 */
export const DR7_GAP: L0Gap = {
  what: 'no DR7 breakpoint or watchpoint in L2 guests',
  fixedIn: [10, 0],
};

/**
 * An int3 in L2 is checked only against the INTn (software interrupt) intercept, not against
 * the #BP exception intercept KVM sets for software breakpoints, so it goes to the L2's IDT and
 * never becomes a KVM debug exit. Measured on 7.2.22 and still on 10.0.2.
 */
export const BP_INTERCEPT_GAP: L0Gap = {
  what: 'no #BP intercept for an int3 in L2 guests',
  fixedIn: null,
};

/** "10.0.2" → [10, 0, 2]; anything else is an error naming the value. */
export function parseQemuVersion(version: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version.trim());
  if (!m) throw new Error(`KVMTS_L0_QEMU_VERSION=${version}: expected a QEMU version such as 10.0.2`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/**
 * Whether the gap affects this run: never outside the nested-x86 tier (the CPU is real there),
 * inside it according to the L0 QEMU's version. A nested-x86 run without a version is an old
 * runner, whose only QEMU was 7.2: the gap is there.
 */
export function l0HasGap(gap: L0Gap, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.KVMTS_TIER !== 'nested-x86') return false;
  if (!env.KVMTS_L0_QEMU_VERSION || gap.fixedIn === null) return true;
  const [major, minor] = parseQemuVersion(env.KVMTS_L0_QEMU_VERSION);
  const [fixMajor, fixMinor] = gap.fixedIn;
  return major < fixMajor || (major === fixMajor && minor < fixMinor);
}

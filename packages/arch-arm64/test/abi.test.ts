/**
 * The arm64 KVM ABI tables against the arm64 kernel headers, on the x86 build machine: a probe
 * generated from the tables is compiled with the cross compiler (aarch64-linux-gnu-gcc, whose
 * sysroot carries Debian's linux-libc-dev-arm64-cross headers) and its values are read from the
 * assembly (core's compileAbiProbe), so nothing arm64 runs here. System register names are
 * checked against the cross assembler's MRS encodings.
 * Needs gcc-aarch64-linux-gnu (apt-get install gcc-aarch64-linux-gnu; the nested arm64 tier's
 * runner installs it too); fails, not skips, without it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as core from '@kvmts/core';
import {
  KvmAbiIntroducedIn,
  KvmAbiTablePrefixes,
  collectAbiChecks,
  compareWithProbe,
  compileAbiProbe,
  decodeIoctl,
  type AbiCheck,
  type ProbeResult,
} from '@kvmts/core';
import * as arm64 from '../src/abi';
import {
  ARM64_CORE_REGISTERS,
  ARM64_FP_REGISTERS,
  ARM64_SPSR_NAMES,
  ARM64_V_NAMES,
  ARM64_X_NAMES,
  Arm64RegsLayout,
  KVM_NR_SPSR,
  ARM64_ID_REGISTERS,
  ARM64_MPIDR_EL1,
  ARM64_SYSTEM_REGISTERS,
  Arm64AbiTablePrefixes,
  Arm64FwRegId,
  Arm64Ioctl,
  Arm64KvmDeviceType,
  Arm64Layouts,
  Arm64TimerRegId,
  KVM_REG_ARM64_ID,
  oneRegBytes,
  sysRegId,
  type SysRegEncoding,
} from '../src/abi';

const CC = process.env.KVMTS_ARM64_CC ?? 'aarch64-linux-gnu-gcc';
const AS = process.env.KVMTS_ARM64_AS ?? 'aarch64-linux-gnu-as';
const OBJCOPY = process.env.KVMTS_ARM64_OBJCOPY ?? 'aarch64-linux-gnu-objcopy';

/** Exports that are not numbers with a macro of their own: each is checked below by a table-specific expression. */
const checkedSeparately = [
  'KVM_REG_ARM64_ID', 'Arm64TimerRegId', 'Arm64FwRegId', 'Arm64KvmDeviceType',
  'ARM64_CORE_REGISTERS', 'ARM64_FP_REGISTERS', 'ARM64_SYSTEM_REGISTERS', 'ARM64_ID_REGISTERS', 'ARM64_MPIDR_EL1',
];
/** Exports that are not ABI values. */
const notAbi = ['Arm64AbiTablePrefixes', 'ARM64_X_NAMES', 'ARM64_SPSR_NAMES', 'ARM64_V_NAMES', 'ARM64_PSTATE_EL1H_MASKED', 'ARM64_IRQ_LINE_MAX_VCPUS'];
const collectOptions = { tablePrefixes: Arm64AbiTablePrefixes, notAbi: [...notAbi, ...checkedSeparately] };

const SIZE_MACRO: Record<number, string> = { 4: 'KVM_REG_SIZE_U32', 8: 'KVM_REG_SIZE_U64', 16: 'KVM_REG_SIZE_U128' };
/** The uapi macro of each named timer register of the allow-list. */
const TIMER_MACRO: Record<string, string> = { CNTV_CTL_EL0: 'KVM_REG_ARM_TIMER_CTL', CNTV_CVAL_EL0: 'KVM_REG_ARM_TIMER_CVAL' };

const sysRegExpr = (e: SysRegEncoding): string => `ARM64_SYS_REG(${e.op0}, ${e.op1}, ${e.crn}, ${e.crm}, ${e.op2})`;

/** Checks for the bigint ids and the enum members, which collectAbiChecks cannot express. */
function separateChecks(): AbiCheck[] {
  const out: AbiCheck[] = [{ id: 'KVM_REG_ARM64_ID', expected: KVM_REG_ARM64_ID, expr: 'KVM_REG_ARM64', macro: 'KVM_REG_ARM64' }];
  for (const [k, v] of Object.entries(Arm64TimerRegId)) out.push({ id: `Arm64TimerRegId.${k}`, expected: v, expr: `KVM_REG_ARM_${k}`, macro: `KVM_REG_ARM_${k}` });
  for (const [k, v] of Object.entries(Arm64FwRegId)) out.push({ id: `Arm64FwRegId.${k}`, expected: v, expr: `KVM_REG_ARM_${k}`, macro: `KVM_REG_ARM_${k}` });
  // enum kvm_device_type members: no #ifdef possible.
  for (const [k, v] of Object.entries(Arm64KvmDeviceType)) out.push({ id: `Arm64KvmDeviceType.${k}`, expected: BigInt(v), expr: `KVM_DEV_TYPE_${k}` });
  for (const r of [...ARM64_CORE_REGISTERS, ...ARM64_FP_REGISTERS]) {
    const expr = `KVM_REG_ARM64 | ${SIZE_MACRO[oneRegBytes(r.id)]} | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(${r.member})`;
    out.push({ id: `core.${r.name}`, expected: r.id, expr });
  }
  for (const r of [...ARM64_SYSTEM_REGISTERS, ...ARM64_ID_REGISTERS, ARM64_MPIDR_EL1]) {
    const expr = 'encoding' in r ? sysRegExpr(r.encoding) : TIMER_MACRO[r.name];
    out.push({ id: `sysreg.${r.name}`, expected: r.id, expr });
  }
  return out;
}

/** core's name tables (ioctl numbers, capabilities, exit reasons, …) hold on arm64 too. */
function coreTableChecks(): AbiCheck[] {
  const { checks } = collectAbiChecks(core as unknown as Record<string, unknown>, { tablePrefixes: KvmAbiTablePrefixes });
  return checks.map((c) => ({ ...c, id: `core:${c.id}` }));
}

let probe: ProbeResult | undefined;
let checks: AbiCheck[] | undefined;
function probed(): { checks: AbiCheck[]; probe: ProbeResult } {
  checks ??= [...collectAbiChecks(arm64 as unknown as Record<string, unknown>, collectOptions).checks, ...separateChecks(), ...coreTableChecks()];
  probe ??= compileAbiProbe(checks, CC);
  return { checks, probe };
}

describe('arm64 KVM ABI tables vs the arm64 kernel headers (cross compiler)', () => {
  it('classifies every export of arch-arm64/abi (no table escapes the check)', () => {
    const { unclassified, checks: collected } = collectAbiChecks(arm64 as unknown as Record<string, unknown>, collectOptions);
    expect(unclassified).toEqual([]);
    for (const k of Object.keys(Arm64Ioctl)) expect(collected.some((c) => c.macro === `KVM_${k}`)).toBe(true);
    const exported = new Set(Object.values(arm64));
    for (const l of Arm64Layouts) expect(exported.has(l)).toBe(true);
    for (const name of checkedSeparately) expect(name in arm64).toBe(true);
    // every register of every table has its own check
    const ids = new Set(separateChecks().map((c) => c.id));
    const registers = [...ARM64_CORE_REGISTERS, ...ARM64_FP_REGISTERS].map((r) => `core.${r.name}`);
    const sysregs = [...ARM64_SYSTEM_REGISTERS, ...ARM64_ID_REGISTERS, ARM64_MPIDR_EL1].map((r) => `sysreg.${r.name}`);
    expect([...registers, ...sysregs].filter((id) => !ids.has(id))).toEqual([]);
  });

  it('matches every ioctl number, constant, struct layout and ONE_REG id, and core tables hold on arm64', () => {
    const { checks: all, probe: p } = probed();
    expect(p.headerVersion).toBeGreaterThanOrEqual(core.kernelVersionCode('6.1'));
    expect(all.length).toBeGreaterThan(500);
    const problems = compareWithProbe(all, p, KvmAbiIntroducedIn);
    // linux/kvm.h defines these only with x86's __KVM_HAVE_* features: absent on arm64, as they should be.
    const x86Only = ['MCE', 'PIT2', 'PIT_STATE2', 'XEN_HVM', 'DEBUGREGS', 'XSAVE', 'XCRS'];
    expect(problems.filter((m) => !x86Only.some((c) => m.startsWith(`core:KvmCap.${c} (`) && m.includes('macro not defined')))).toEqual([]);
    expect(problems).toHaveLength(x86Only.length);
  });

  it('has the request numbers the arm64 reference measured, SET_GUEST_DEBUG differing from x86', () => {
    expect(Arm64Ioctl.ARM_VCPU_INIT).toBe(0x4020aeae);
    expect(Arm64Ioctl.ARM_PREFERRED_TARGET).toBe(0x8020aeaf);
    expect(Arm64Ioctl.ARM_VCPU_FINALIZE).toBe(0x4004aec2);
    expect(Arm64Ioctl.SET_GUEST_DEBUG).toBe(0x4208ae9b);
    expect(decodeIoctl(Arm64Ioctl.ARM_PREFERRED_TARGET).size).toBe(32);
  });

  it('keeps the swapped timer ids as the uapi defines them (named constants, not encodings)', () => {
    const cntvCval = { op0: 3, op1: 3, crn: 14, crm: 3, op2: 2 };
    const cntvct = { op0: 3, op1: 3, crn: 14, crm: 0, op2: 2 };
    // The id named CNT has CNTV_CVAL_EL0's encoding, and CVAL has CNTVCT_EL0's.
    expect(Arm64TimerRegId.TIMER_CNT).toBe(sysRegId(cntvCval));
    expect(Arm64TimerRegId.TIMER_CVAL).toBe(sysRegId(cntvct));
    const cval = ARM64_SYSTEM_REGISTERS.find((r) => r.name === 'CNTV_CVAL_EL0');
    expect(cval?.id).toBe(Arm64TimerRegId.TIMER_CVAL);
    expect(ARM64_SYSTEM_REGISTERS.some((r) => r.id === Arm64TimerRegId.TIMER_CNT)).toBe(false);
    expect(p().values.get('Arm64TimerRegId.TIMER_CNT')).toBe(0x6030_0000_0013_df1an);
  });
});

function p(): ProbeResult {
  return probed().probe;
}

/** op0..op2 of each `mrs x0, <name>` the cross assembler produces. */
function assembleMrs(names: readonly string[]): SysRegEncoding[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-arm64-mrs-'));
  try {
    const src = path.join(dir, 'mrs.s');
    fs.writeFileSync(src, names.map((n) => `mrs x0, ${n.toLowerCase()}\n`).join(''));
    // +sve: binutils only accepts ID_AA64ZFR0_EL1 by name when SVE is selected.
    for (const [tool, args] of [[AS, ['-march=armv8.6-a+sve', '-o', `${src}.o`, src]], [OBJCOPY, ['-O', 'binary', `${src}.o`, `${src}.bin`]]] as const) {
      const r = spawnSync(tool, args, { encoding: 'utf8' });
      if (r.error || r.status !== 0) throw new core.AbiProbeError(`${tool} failed (apt-get install binutils-aarch64-linux-gnu): ${r.error?.message ?? r.stderr}`);
    }
    const code = fs.readFileSync(`${src}.bin`);
    // MRS: 1101 0101 0011 o0 op1 CRn CRm op2 Rt, op0 = 2 + o0.
    return names.map((_, i) => {
      const insn = code.readUInt32LE(4 * i);
      return { op0: 2 + ((insn >>> 19) & 1), op1: (insn >>> 16) & 7, crn: (insn >>> 12) & 0xf, crm: (insn >>> 8) & 0xf, op2: (insn >>> 5) & 7 };
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('arm64 system register tables vs the cross assembler', () => {
  it('gives every allow-listed and ID register the encoding the assembler gives its name', () => {
    const encoded = [...ARM64_SYSTEM_REGISTERS, ...ARM64_ID_REGISTERS, ARM64_MPIDR_EL1].filter((r): r is typeof r & { encoding: SysRegEncoding } => 'encoding' in r);
    expect(assembleMrs(encoded.map((r) => r.name))).toEqual(encoded.map((r) => r.encoding));
  });

  it('reaches the virtual timer through the swapped ids: CNTV_CVAL_EL0 by its name is the id KVM calls TIMER_CNT', () => {
    const [ctl, cval, cnt] = assembleMrs(['CNTV_CTL_EL0', 'CNTV_CVAL_EL0', 'CNTVCT_EL0']);
    expect(sysRegId(ctl)).toBe(Arm64TimerRegId.TIMER_CTL);
    expect(sysRegId(cval)).toBe(Arm64TimerRegId.TIMER_CNT);
    expect(sysRegId(cnt)).toBe(Arm64TimerRegId.TIMER_CVAL);
  });
});

describe('arm64 register tables agree with the layout tables', () => {
  it('cover every member of struct kvm_regs, each array element once, in struct order', () => {
    const f = Arm64RegsLayout.fields;
    expect(ARM64_X_NAMES).toHaveLength(f['regs.regs'].size / f['regs.regs'].stride);
    expect(ARM64_SPSR_NAMES).toHaveLength(KVM_NR_SPSR);
    expect(ARM64_V_NAMES).toHaveLength(f['fp_regs.vregs'].size / f['fp_regs.vregs'].stride);
    const members = [...ARM64_CORE_REGISTERS, ...ARM64_FP_REGISTERS].map((r) => r.member.replace(/\[\d+\]$/, ''));
    expect([...new Set(members)]).toEqual(Object.keys(f));
    const offsets = [...ARM64_CORE_REGISTERS, ...ARM64_FP_REGISTERS].map((r) => Number(r.id & 0xffffn) * 4);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });

  it('name all sixteen 4-bit fields of every ID register', () => {
    for (const r of ARM64_ID_REGISTERS) expect([r.name, r.fields.length]).toEqual([r.name, 16]);
  });
});

import { ConfigError, describeValue } from '@kvmts/core';
import type { X86FlatBoot } from './loader/flat-image';
import type { X86KernelBoot } from './loader/kernel-boot';
import { checkCpuidRequest, type X86CpuidRequest } from './state/cpuid-request';
import { checkApStart, X86_AP_STARTS, type X86ApStart } from './smp/ap-start';
import { X86_GSI_ROUTING_KINDS, type X86GsiRoutingKind } from './interrupts/gsi-routes';
import { X86_DEFAULT_SYNC_REGS, X86_SYNC_REGS_GROUPS, type X86SyncRegsGroup } from './state/sync-regs';

/** What `MachineConfig.boot` holds on x86: a flat image entered directly, or a kernel (bzImage, PVH ELF, Multiboot). */
export type X86Boot = X86FlatBoot | X86KernelBoot;

/** `MachineConfig.archOptions` on x86. */
export interface X86MachineOptions {
  /**
   * How interrupts reach the guest (docs/architecture.md, "x86: interrupt modes"):
   * - 'kernel': KVM's in-kernel PIC, IOAPIC, PIT and LAPICs (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2).
   *   Device lines are KVM_IRQ_LINE on GSIs (the PIC and IOAPIC pins of the same number);
   *   irqfd (core `Irqfd`) and MSI (`x86GsiRouting`, core `MsiSignaller`) work; HLT sleeps in
   *   the kernel until an interrupt arrives.
   * - 'userspace': no in-kernel irqchip; kvmts' userspace controller (gem5's way) holds pending
   *   vectors and NMIs and each vCPU thread injects them (KVM_INTERRUPT through the interrupt
   *   window, KVM_NMI). Line n raises vector 0x20 + n on vCPU 0, on its rising edge; the host
   *   raises NMIs and vectors with `x86UserspaceInterrupts(machine.vm)`. HLT with IF = 1 waits
   *   in the vCPU thread for an interrupt; with IF = 0 it ends the run ('halted').
   * - 'none' (default): no interrupt controller: a device that drives a line gets KVM_IRQ_LINE's
   *   error (KvmError); HLT ends the run with reason 'halted'.
   */
  readonly irqchip?: 'kernel' | 'userspace' | 'none';
  /**
   * The guest CPUID: KVM_GET_SUPPORTED_CPUID ∩ this request, then normalised per vCPU
   * (state/cpuid-normalize.ts). Default: everything KVM supports.
   */
  readonly cpuid?: X86CpuidRequest;
  /**
   * Where application processors (vCPUs 1..n) start when a boot payload is given (smp/ap-start.ts):
   * - 'entry' (default): at the payload's entry, like vCPU 0.
   * - 'sipi': waiting for SIPI, as on a PC after power-on: the BSP starts each one with INIT +
   *   STARTUP IPIs through its LAPIC, in real mode at vector × 0x1000. Needs irqchip 'kernel'.
   */
  readonly apStart?: X86ApStart;
  /**
   * With irqchip 'kernel': 'kvm' (default) keeps KVM's routes (GSI n → IOAPIC pin n); 'pc'
   * wires the PIT's GSI 0 to IOAPIC pin 2, as a PC and buildMpTable's default table have it
   * (interrupts/gsi-routes.ts).
   */
  readonly gsiRouting?: X86GsiRoutingKind;
  /**
   * The state groups KVM copies into kvm_run on every exit and takes from it on entry
   * (KVM_CAP_SYNC_REGS; state/sync-regs.ts): reading or writing them between runs then costs no
   * ioctl. Default ['regs']; 'sregs' and 'events' cost KVM a copy per exit; 'sregs' is used only
   * where KVM lacks SREGS2; [] turns it off. Without the cap every group goes by ioctl.
   */
  readonly syncRegs?: readonly X86SyncRegsGroup[];
  /**
   * Run a full state pull or push (checkpoints, CPU switches, dumps: ~10 ioctls each way) as one
   * native call (`runIoctlBatch`) instead of one N-API crossing per ioctl. Default false: in the
   * only KVM measured so far (nested, under TCG) batching made a full sync slower, and natively it
   * saves ~0.2 µs per ioctl (scripts/bench/README.md, `sync`).
   */
  readonly batchStateSync?: boolean;
}

const KNOWN = ['irqchip', 'cpuid', 'apStart', 'gsiRouting', 'syncRegs', 'batchStateSync'];

/** `archOptions`, checked; a ConfigError names the bad option. */
export function x86MachineOptions(raw: unknown): Required<X86MachineOptions> {
  if (raw === undefined) return { irqchip: 'none', cpuid: {}, apStart: 'entry', gsiRouting: 'kvm', syncRegs: X86_DEFAULT_SYNC_REGS, batchStateSync: false };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('archOptions', 'must be an object (X86MachineOptions)');
  for (const key of Object.keys(raw)) {
    if (!KNOWN.includes(key)) throw new ConfigError(`archOptions.${key}`, `unknown x86 option (known: ${KNOWN.join(', ')})`);
  }
  const o = raw as X86MachineOptions;
  const irqchip = o.irqchip ?? 'none';
  if (irqchip !== 'kernel' && irqchip !== 'userspace' && irqchip !== 'none') {
    throw new ConfigError('archOptions.irqchip', `must be 'kernel', 'userspace' or 'none', got ${describeValue(irqchip)}`);
  }
  const apStart = o.apStart ?? 'entry';
  if (!X86_AP_STARTS.includes(apStart)) throw new ConfigError('archOptions.apStart', `must be ${X86_AP_STARTS.map((a) => `'${a}'`).join(' or ')}, got ${describeValue(apStart)}`);
  checkApStart(apStart, irqchip);
  const gsiRouting = o.gsiRouting ?? 'kvm';
  if (!X86_GSI_ROUTING_KINDS.includes(gsiRouting)) throw new ConfigError('archOptions.gsiRouting', `must be 'kvm' or 'pc', got ${describeValue(gsiRouting)}`);
  if (gsiRouting === 'pc' && irqchip !== 'kernel') throw new ConfigError('archOptions.gsiRouting', `'pc' routes the in-kernel irqchip's GSIs: it needs archOptions.irqchip 'kernel', got '${irqchip}'`);
  const batchStateSync = o.batchStateSync ?? false;
  if (typeof batchStateSync !== 'boolean') throw new ConfigError('archOptions.batchStateSync', `must be true or false, got ${describeValue(batchStateSync)}`);
  return { irqchip, cpuid: checkCpuidRequest(o.cpuid), apStart, gsiRouting, syncRegs: checkSyncRegs(o.syncRegs), batchStateSync };
}

function checkSyncRegs(raw: unknown): readonly X86SyncRegsGroup[] {
  if (raw === undefined) return X86_DEFAULT_SYNC_REGS;
  const known = X86_SYNC_REGS_GROUPS.map((g) => `'${g}'`).join(', ');
  if (!Array.isArray(raw)) throw new ConfigError('archOptions.syncRegs', `must be a list of ${known}, got ${describeValue(raw)}`);
  for (const g of raw) {
    if (!X86_SYNC_REGS_GROUPS.includes(g as X86SyncRegsGroup)) throw new ConfigError('archOptions.syncRegs', `${describeValue(g)} is not a group kvm_run carries (${known})`);
  }
  return [...new Set(raw as X86SyncRegsGroup[])];
}

/**
 * The rig of the suites that read and write registers around exits with the sync-regs-tests
 * guest (sync-regs.kvm, register-read.kvm): a one-vCPU long-mode machine whose guest reports on
 * a stop port, KVM_GET_REGS behind the CPU's back, and a run with a handler in every stop exit.
 */
import { KvmExitReason, KvmRunLayout, kvmIoctl, type CpuStop } from '@kvmts/core';
import {
  X86Ioctl,
  X86RegsLayout,
  assembleGuest,
  createX86Regs,
  decodeRegs,
  exitDevice,
  type GuestImage,
  type X86KvmCPU,
  type X86MachineOptions,
  type X86Regs,
} from '@kvmts/arch-x86';
import { makeRig, RecordingDevice, type Rig } from './harness';

/** The port the guest writes to at each point the host looks at it. */
export const STOP_PORT = 0x10;
/** Where the guest writes what it observed. */
export const OUT = 0x200000;

let guest: GuestImage | undefined;

/** A machine running the sync-regs-tests guest from `entry` (assembled once per suite). */
export function syncRegsRig(entry: string, archOptions?: X86MachineOptions, registers: Record<string, bigint> = {}): Rig {
  guest ??= assembleGuest('sync-regs-tests');
  const r = makeRig(
    { kind: 'flat', mode: 'long', cpl: 0, image: guest.bytes, entry: guest.symbols.get(entry)!, registers },
    { devices: [exitDevice()], archOptions, memory: [{ name: 'ram', guestPhysAddr: 0, size: 4 << 20 }] },
  );
  r.cpus[0].pio.attach({ base: STOP_PORT, size: 1 }, new RecordingDevice('stop-port'));
  return r;
}

/** KVM_GET_REGS on the vCPU's fd, behind the CPU's back. */
export function kvmRegs(cpu: X86KvmCPU): X86Regs {
  const buf = new DataView(new ArrayBuffer(X86RegsLayout.size));
  kvmIoctl(cpu.fd, X86Ioctl.GET_REGS, 'KVM_GET_REGS', buf);
  return decodeRegs(buf, createX86Regs());
}

/** The vCPU's kvm_run (protected in TypeScript). */
export const kvmRun = (cpu: X86KvmCPU): DataView => (cpu as unknown as { run: DataView }).run;

/** Run `cpu` with `onStop` called in every exit on the stop port (before the default handler). */
export function runWithStopHandler(cpu: X86KvmCPU, onStop: (cpu: X86KvmCPU) => void): CpuStop {
  const serve = cpu.getExitHandler(KvmExitReason.IO)!;
  cpu.setExitHandler(KvmExitReason.IO, (c) => {
    if (kvmRun(cpu).getUint16(KvmRunLayout.io_port, true) === STOP_PORT) onStop(c as X86KvmCPU);
    return serve(c);
  });
  try {
    return cpu.runLoop();
  } finally {
    cpu.setExitHandler(KvmExitReason.IO, serve);
  }
}

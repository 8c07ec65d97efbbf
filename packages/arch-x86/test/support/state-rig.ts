/**
 * Rigs for the state suites: the state-tests guest in long mode, a device on its stop port, and
 * a move of a vCPU — memory and thread context — into a fresh VM built the same way.
 */
import { assembleGuest, exitDevice, type GuestImage, type X86FlatBoot, type X86KvmCPU, type X86MachineOptions } from '@kvmts/arch-x86';
import { makeRig, RecordingDevice, type Rig } from './harness';

export const RAM_BYTES = 4 << 20;
const STOP_PORT = 0x10;

let guest: GuestImage | undefined;
export function stateGuest(): GuestImage {
  guest ??= assembleGuest('state-tests');
  return guest;
}

export interface StateRigOptions {
  readonly entry: string;
  readonly cpl?: 0 | 3;
  readonly registers?: X86FlatBoot['registers'];
  readonly data?: { gpa: number; bytes: Uint8Array }[];
  readonly archOptions?: X86MachineOptions;
  readonly cpus?: number;
}

/**
 * Enable x87/SSE/AVX state for `cpu`'s guest as an OS would, from the host: CR4.OSFXSR,
 * OSXMMEXCPT, OSXSAVE, and XCR0 = x87|SSE|AVX, plus the AVX-512 components when the vCPU's
 * CPUID offers AVX-512F and leaf 0xD the three components. Returns whether AVX-512 is on.
 */
export function enableAvx(cpu: X86KvmCPU): boolean {
  cpu.markDirty('sregs', 'xcrs');
  const tc = cpu.getThreadContext();
  tc.sregs.cr4 |= (1n << 9n) | (1n << 10n) | (1n << 18n);
  const leaf7 = tc.cpuid.find((e) => e.function === 7 && e.index === 0);
  const leafD = tc.cpuid.find((e) => e.function === 0xd && e.index === 0);
  const avx512 = leaf7 !== undefined && ((leaf7.ebx >>> 16) & 1) === 1 && leafD !== undefined && (leafD.eax & 0xe0) === 0xe0;
  tc.xcrs.splice(0, tc.xcrs.length, { index: 0, value: avx512 ? 0xe7n : 0x7n });
  return avx512;
}

/** A rig running `entry` of state-tests, with the stop port (0x10) and the exit port (0xf4) served. */
export function stateRig(o: StateRigOptions): Rig {
  const g = stateGuest();
  const entry = g.symbols.get(o.entry);
  if (entry === undefined) throw new Error(`state-tests has no symbol ${o.entry}`);
  const rig = makeRig(
    { kind: 'flat', mode: 'long', cpl: o.cpl ?? 0, image: g.bytes, entry, registers: o.registers, data: o.data },
    { devices: [exitDevice()], archOptions: o.archOptions, cpus: o.cpus, memory: [{ name: 'ram', guestPhysAddr: 0, size: RAM_BYTES }] },
  );
  for (const cpu of rig.cpus) cpu.pio.attach({ base: STOP_PORT, size: 1 }, new RecordingDevice('stop-port'));
  return rig;
}

/**
 * Move vCPU 0 of `from` into a fresh VM built like it: memory copied, then takeOverFrom (which
 * switches `from`'s CPU out). `edit` may change the context on the way, as a checkpoint could.
 */
export function moveToFreshVm(from: Rig, o: StateRigOptions, edit?: (data: ReturnType<Rig['cpus'][0]['switchOut']>) => void): Rig {
  const to = stateRig({ ...o, data: [] });
  to.vm.memory().write(0, from.vm.memory().read(0, RAM_BYTES));
  const tc = from.cpus[0].switchOut();
  edit?.(tc);
  to.cpus[0].takeOverFrom(tc);
  return to;
}

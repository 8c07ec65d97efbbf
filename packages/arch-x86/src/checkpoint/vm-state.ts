/**
 * x86 in-kernel VM state as checkpoint components, each the raw kernel struct bytes (the ABI
 * tables in abi/layouts.ts give their sizes; the kernel keeps these layouts stable):
 *
 *   x86.clock    KVM_GET/SET_CLOCK: kvmclock's value. Restored with flags 0 — the guest clock
 *                continues from the saved instant, as a simulator's time does, instead of
 *                jumping by the wall-clock time the checkpoint sat on disk (KVM_CLOCK_REALTIME).
 *   x86.pit      KVM_GET/SET_PIT2 (in-kernel irqchip only)
 *   x86.irqchip  KVM_GET/SET_IRQCHIP for the PIC master, PIC slave and IOAPIC (in-kernel only);
 *                each vCPU's LAPIC travels in its ThreadContext.
 *   x86.gsi-routing  the GSI routing table with its MSI routes (in-kernel only; gsi-routing-state.ts)
 *   x86.userspace-irq  irqchip 'userspace': the line levels and each vCPU's pending vectors and
 *                NMIs (interrupts/userspace-controller.ts), so a raised interrupt is not lost
 */
import { CheckpointError, kvmIoctl, type CheckpointComponent, type CheckpointContext, type MachineConfig } from '@kvmts/core';
import { X86Ioctl } from '../abi/ioctls';
import { X86ClockDataLayout, X86IrqchipLayout, X86PitState2Layout } from '../abi/layouts';
import { X86Irqchip } from '../abi/constants';
import { x86MachineOptions } from '../machine-options';
import { vmUserspaceIrqData } from '../interrupts/vm-interrupts';
import { userspaceIrqStateWords } from '../interrupts/userspace-controller';
import { x86GsiRoutingComponent } from './gsi-routing-state';

function record(state: unknown, where: string): Record<string, unknown> {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) throw new CheckpointError(where, 'expected an object', { code: 'incompatible' });
  return state as Record<string, unknown>;
}

function bytesOf(state: Record<string, unknown>, key: string, size: number, where: string): Uint8Array {
  const v = state[key];
  if (!(v instanceof Uint8Array) || v.byteLength !== size) {
    throw new CheckpointError(`${where}.${key}`, `expected ${size} bytes, got ${v instanceof Uint8Array ? `${v.byteLength} bytes` : typeof v}`, { code: 'incompatible' });
  }
  return v;
}

function view(bytes: Uint8Array): DataView {
  const copy = bytes.slice();
  return new DataView(copy.buffer);
}

export const x86ClockComponent: CheckpointComponent = {
  name: 'x86.clock',
  version: 1,
  save(ctx: CheckpointContext) {
    const data = new DataView(new ArrayBuffer(X86ClockDataLayout.size));
    kvmIoctl(ctx.vm.fd, X86Ioctl.GET_CLOCK, 'KVM_GET_CLOCK', data);
    return { clock: data.getBigUint64(X86ClockDataLayout.fields.clock.offset, true) };
  },
  restore(ctx: CheckpointContext, state: unknown) {
    const clock = record(state, 'x86.clock').clock;
    if (typeof clock !== 'bigint') throw new CheckpointError('x86.clock.clock', `expected a bigint, got ${typeof clock}`, { code: 'incompatible' });
    const data = new DataView(new ArrayBuffer(X86ClockDataLayout.size));
    data.setBigUint64(X86ClockDataLayout.fields.clock.offset, clock, true);
    kvmIoctl(ctx.vm.fd, X86Ioctl.SET_CLOCK, 'KVM_SET_CLOCK', data);
  },
};

export const x86PitComponent: CheckpointComponent = {
  name: 'x86.pit',
  version: 1,
  save(ctx: CheckpointContext) {
    const data = new Uint8Array(X86PitState2Layout.size);
    kvmIoctl(ctx.vm.fd, X86Ioctl.GET_PIT2, 'KVM_GET_PIT2', data);
    return { state: data };
  },
  restore(ctx: CheckpointContext, state: unknown) {
    kvmIoctl(ctx.vm.fd, X86Ioctl.SET_PIT2, 'KVM_SET_PIT2', view(bytesOf(record(state, 'x86.pit'), 'state', X86PitState2Layout.size, 'x86.pit')));
  },
};

/** The three in-kernel interrupt controllers KVM_GET_IRQCHIP answers for, by section key. */
const IRQCHIPS = [
  { key: 'picMaster', id: X86Irqchip.PIC_MASTER },
  { key: 'picSlave', id: X86Irqchip.PIC_SLAVE },
  { key: 'ioapic', id: X86Irqchip.IOAPIC },
] as const;

const CHIP = X86IrqchipLayout.fields.chip;

export const x86IrqchipComponent: CheckpointComponent = {
  name: 'x86.irqchip',
  version: 1,
  save(ctx: CheckpointContext) {
    const out: Record<string, Uint8Array> = {};
    for (const { key, id } of IRQCHIPS) {
      const data = new Uint8Array(X86IrqchipLayout.size);
      new DataView(data.buffer).setUint32(X86IrqchipLayout.fields.chip_id.offset, id, true);
      kvmIoctl(ctx.vm.fd, X86Ioctl.GET_IRQCHIP, `KVM_GET_IRQCHIP(${key})`, data);
      out[key] = data.slice(CHIP.offset, CHIP.offset + CHIP.size);
    }
    return out;
  },
  restore(ctx: CheckpointContext, state: unknown) {
    const s = record(state, 'x86.irqchip');
    for (const { key, id } of IRQCHIPS) {
      const data = new Uint8Array(X86IrqchipLayout.size);
      new DataView(data.buffer).setUint32(X86IrqchipLayout.fields.chip_id.offset, id, true);
      data.set(bytesOf(s, key, CHIP.size, 'x86.irqchip'), CHIP.offset);
      kvmIoctl(ctx.vm.fd, X86Ioctl.SET_IRQCHIP, `KVM_SET_IRQCHIP(${key})`, data);
    }
  },
};

function userspaceIrqWords(ctx: CheckpointContext): Int32Array {
  const data = vmUserspaceIrqData(ctx.vm);
  if (data === undefined) throw new CheckpointError('x86.userspace-irq', "the VM has no userspace interrupt controller (irqchip: 'userspace')", { code: 'incompatible' });
  return userspaceIrqStateWords(data);
}

export const x86UserspaceIrqComponent: CheckpointComponent = {
  name: 'x86.userspace-irq',
  version: 1,
  save(ctx: CheckpointContext) {
    const words = userspaceIrqWords(ctx);
    const copy = new Int32Array(words.length);
    for (let i = 0; i < words.length; i++) copy[i] = Atomics.load(words, i);
    return { words: new Uint8Array(copy.buffer) };
  },
  restore(ctx: CheckpointContext, state: unknown) {
    const words = userspaceIrqWords(ctx);
    const saved = new Int32Array(bytesOf(record(state, 'x86.userspace-irq'), 'words', words.byteLength, 'x86.userspace-irq').slice().buffer);
    for (let i = 0; i < words.length; i++) Atomics.store(words, i, saved[i]);
  },
};

/**
 * The VM-level state a machine of `config` has: kvmclock always; PIT, PICs, IOAPIC and the GSI
 * routing table with the in-kernel irqchip; the userspace controller's pending interrupts with irqchip 'userspace'.
 */
export function x86VmComponents(config: MachineConfig): CheckpointComponent[] {
  const irqchip = x86MachineOptions(config.archOptions).irqchip;
  if (irqchip === 'kernel') return [x86ClockComponent, x86PitComponent, x86IrqchipComponent, x86GsiRoutingComponent];
  if (irqchip === 'userspace') return [x86ClockComponent, x86UserspaceIrqComponent];
  return [x86ClockComponent];
}

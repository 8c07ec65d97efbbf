/**
 * kvmts' port doorbell for the m5ops: `out imm8, eax` to the doorbell port with eax = gem5's
 * function number; arguments in rdi, rsi, rdx, rcx, r8, r9 as for the MMIO window; the result is
 * written to rax. Reading the port gives 0. The default port is below 0x100 so the immediate form
 * works: `out dx, eax` would need rdx, the third argument register, for the port.
 *
 * This is the hypercall form. VMCALL/VMMCALL cannot be: KVM handles them in the kernel — an
 * unknown hypercall number gets -KVM_ENOSYS in rax and never reaches userspace, and
 * KVM_CAP_EXIT_HYPERCALL forwards only KVM_HC_MAP_GPA_RANGE (api.rst; x86.c,
 * kvm_emulate_hypercall). A port write always exits to userspace, needs no mapping (unlike the
 * window, which paging must map and RAM must not cover) and works in every CPU mode.
 *
 * rax is set through X86KvmCPU.setRegs and pushed at once, because the run loop does not push
 * between exits. KVM completes the pending OUT on the next KVM_RUN by skipping the instruction
 * (RIP is unchanged, so its completion callback still applies).
 */
import { checkDeviceOptions, type AccessSize, type Device, type DeviceContext, type DevicePlugin, type HighWord, type M5opFileOptions } from '@kvmts/core';
import { checkPortBase } from '../options';
import { X86M5opCaller, checkedFileOptions } from './caller';

export interface M5opsDoorbellOptions extends M5opFileOptions {
  /** First of the doorbell's 4 ports. Default 0x58 (no PC device sits at 0x58–0x5b; below 0x100 for `out imm8, eax`). */
  readonly port?: number;
}

export const M5OPS_DOORBELL_DEFAULT_PORT = 0x58;
export const M5OPS_DOORBELL_PORTS = 4;

function checked(options: M5opsDoorbellOptions | undefined): { port: number; files: M5opFileOptions } {
  const o = checkDeviceOptions('m5ops-doorbell', options, ['port', 'readfile', 'outdir']);
  const port = checkPortBase('m5ops-doorbell.port', o.port ?? M5OPS_DOORBELL_DEFAULT_PORT, M5OPS_DOORBELL_PORTS);
  return { port, files: checkedFileOptions('m5ops-doorbell', o) };
}

/** Value mask for a port write of `size` bytes (port I/O is 1, 2 or 4 bytes wide). */
function sizeMask(size: AccessSize): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
}

export class M5opsDoorbell implements Device {
  readonly name: string;
  private readonly caller: X86M5opCaller | undefined;

  constructor(ctx: DeviceContext, files: M5opFileOptions) {
    this.name = ctx.name;
    this.caller = X86M5opCaller.forContext(ctx, files);
  }

  read(_offset: number, _size: AccessSize, out: HighWord): number {
    out.high = 0;
    return 0;
  }

  write(_offset: number, size: AccessSize, value: number): void {
    const caller = this.caller;
    if (!caller) return;
    // A number above 0xff is no gem5 op: it is reported as unknown-0x… in full, never masked to one.
    const result = caller.call((value & sizeMask(size)) >>> 0);
    caller.cpu.setRegs({ rax: result });
    caller.cpu.syncToKvm();
  }
}

export const m5opsDoorbellPlugin: DevicePlugin<M5opsDoorbellOptions> = {
  type: 'm5ops-doorbell',
  validate(options) {
    checked(options);
  },
  placement(options) {
    return { pio: [{ base: checked(options).port, size: M5OPS_DOORBELL_PORTS }] };
  },
  create(ctx, options) {
    return new M5opsDoorbell(ctx, checked(options).files);
  },
};

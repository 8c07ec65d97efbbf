/**
 * The x86 half of an m5op call, shared by both calling conventions: read the argument registers
 * (one KVM_GET_REGS, lazily, when an op arrives) and hand (func, args) to core's M5opGuestCalls,
 * which runs the op in this vCPU thread or stops the vCPU for the machine's main thread.
 * Buffer addresses are guest-virtual, as gem5 takes them: KVM_TRANSLATE walks the guest's page
 * tables for each page (with paging off it returns the address unchanged).
 */
import { ConfigError, M5OP_MAX_ARGS, M5opGuestCalls, checkM5opFileOptions, kvmIoctl, virtualAddressSpace, type DeviceContext, type M5opFileOptions } from '@kvmts/core';
import { X86KvmCPU } from '../../cpu';
import type { X86GprName } from '../../abi/registers';
import { X86Ioctl } from '../../abi/ioctls';
import { X86TranslationLayout as T } from '../../abi/layouts';

/** The x86-64 argument registers, first argument first (System V, as gem5's util/m5 passes them). */
export const X86_M5OP_ARG_REGISTERS: readonly X86GprName[] = ['rdi', 'rsi', 'rdx', 'rcx', 'r8', 'r9'];

/** The host-file options both m5op devices take, checked (a ConfigError names the bad one). */
export function checkedFileOptions(setting: string, o: M5opFileOptions): M5opFileOptions {
  checkM5opFileOptions(setting, o);
  return { readfile: o.readfile, outdir: o.outdir };
}

export class X86M5opCaller {
  private readonly calls: M5opGuestCalls;
  private readonly args: bigint[] = new Array<bigint>(M5OP_MAX_ARGS).fill(0n);

  constructor(readonly cpu: X86KvmCPU, ctx: DeviceContext, files: M5opFileOptions) {
    const memory = ctx.memory ? virtualAddressSpace(ctx.memory, (va) => this.translate(va)) : undefined;
    this.calls = new M5opGuestCalls(cpu, memory, files);
  }

  private readonly translation = new DataView(new ArrayBuffer(T.size));

  /** KVM_TRANSLATE: the guest-physical address of `va` in the vCPU's current address space, or undefined when unmapped. */
  private translate(va: bigint): bigint | undefined {
    const t = this.translation;
    t.setBigUint64(T.fields.linear_address.offset, va, true);
    t.setUint8(T.fields.valid.offset, 0);
    kvmIoctl(this.cpu.fd, X86Ioctl.TRANSLATE, 'KVM_TRANSLATE', t);
    return t.getUint8(T.fields.valid.offset) !== 0 ? t.getBigUint64(T.fields.physical_address.offset, true) : undefined;
  }

  /** The caller for a device instance, or undefined for the main thread's instance (it sits on no bus). */
  static forContext(ctx: DeviceContext, files: M5opFileOptions): X86M5opCaller | undefined {
    if (ctx.cpu === undefined) return undefined;
    if (!(ctx.cpu instanceof X86KvmCPU)) throw new ConfigError(ctx.name, `vCPU ${ctx.cpu.id} is a ${ctx.cpu.arch} CPU; the x86 m5op devices read x86 registers`);
    return new X86M5opCaller(ctx.cpu, ctx, files);
  }

  /** Run op `func` with the guest's argument registers; returns the result for the guest. */
  call(func: number): bigint {
    // One register at a time: from kvm_run after the exit, without decoding all 18.
    const args = this.args;
    for (let i = 0; i < M5OP_MAX_ARGS; i++) args[i] = this.cpu.readRegister(X86_M5OP_ARG_REGISTERS[i]);
    return this.calls.call(func, args);
  }
}

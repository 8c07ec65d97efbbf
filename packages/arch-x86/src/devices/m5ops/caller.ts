/**
 * The x86 half of an m5op call, shared by both calling conventions: read the argument registers
 * (one KVM_GET_REGS, lazily, when an op arrives) and hand (func, args) to core's M5opGuestCalls,
 * which runs the op in this vCPU thread or stops the vCPU for the machine's main thread.
 */
import { ConfigError, M5OP_MAX_ARGS, M5opGuestCalls, checkM5opFileOptions, type DeviceContext, type M5opFileOptions } from '@kvmts/core';
import { X86KvmCPU } from '../../cpu';
import type { X86GprName } from '../../abi/registers';

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
    this.calls = new M5opGuestCalls(cpu, ctx.memory, files);
  }

  /** The caller for a device instance, or undefined for the main thread's instance (it sits on no bus). */
  static forContext(ctx: DeviceContext, files: M5opFileOptions): X86M5opCaller | undefined {
    if (ctx.cpu === undefined) return undefined;
    if (!(ctx.cpu instanceof X86KvmCPU)) throw new ConfigError(ctx.name, `vCPU ${ctx.cpu.id} is a ${ctx.cpu.arch} CPU; the x86 m5op devices read x86 registers`);
    return new X86M5opCaller(ctx.cpu, ctx, files);
  }

  /** Run op `func` with the guest's argument registers; returns the result for the guest. */
  call(func: number): bigint {
    const regs = this.cpu.getRegs();
    const args = this.args;
    for (let i = 0; i < M5OP_MAX_ARGS; i++) args[i] = regs[X86_M5OP_ARG_REGISTERS[i]];
    return this.calls.call(func, args);
  }
}

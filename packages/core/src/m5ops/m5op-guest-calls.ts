/**
 * The vCPU-thread side of the m5ops, shared by every arch's calling convention: an arch device
 * decodes (function number, argument registers) and calls `call`; the result is what the guest
 * reads back. readfile and writefile with their host files configured run here; every other op
 * (and those two without a file) stops the vCPU with an m5op stop for the machine's main thread,
 * where the owner's handlers live, and reads 0.
 */
import { ConfigError, GuestError } from '../errors/errors';
import type { CpuStop } from '../cpu/cpu-stop';
import type { KvmCPU } from '../cpu/kvm-cpu';
import { m5opByFunc, m5opName } from './m5op-table';
import { m5opReadFile, m5opWriteFile, type M5opFileOptions } from './m5op-files';
import { M5opArgumentProblem, type M5opAddressSpace } from './m5op-memory';

export class M5opGuestCalls {
  constructor(
    private readonly cpu: Pick<KvmCPU, 'id' | 'requestStop' | 'dump'>,
    /** Guest memory as the ops' addresses name it (undefined: readfile/writefile go to the machine). */
    private readonly memory: M5opAddressSpace | undefined,
    private readonly files: M5opFileOptions,
  ) {}

  /**
   * Carry out op `func` with the guest's argument registers `args` (missing ones read as 0).
   * Returns the guest-visible result. Throws GuestError kind 'm5op-bad-argument' when the guest's
   * arguments name memory outside RAM or a file outside the output directory.
   */
  call(func: number, args: readonly bigint[]): bigint {
    const name = m5opByFunc(func)?.name;
    const a = (i: number) => args[i] ?? 0n;
    let result: bigint | M5opArgumentProblem | undefined;
    try {
      if (name === 'readfile' && this.files.readfile !== undefined && this.memory) {
        result = m5opReadFile(this.memory, this.files.readfile, a(0), a(1), a(2));
      } else if (name === 'writefile' && this.files.outdir !== undefined && this.memory) {
        result = m5opWriteFile(this.memory, this.files.outdir, a(0), a(1), a(2), a(3));
      }
    } catch (e) {
      // The host file failed (disk full, file removed since the machine was made): the owner's
      // configuration, not the guest, so a ConfigError naming the setting.
      const setting = name === 'readfile' ? 'm5ops.readfile' : 'm5ops.outdir';
      throw new ConfigError(setting, `${name} on vCPU ${this.cpu.id}: ${(e as Error).message}`);
    }
    if (result instanceof M5opArgumentProblem) {
      throw new GuestError('m5op-bad-argument', this.cpu.id, result.message, this.safeDump(), result.details);
    }
    if (result !== undefined) return result;
    this.cpu.requestStop(m5opStop(func, args));
    return 0n;
  }

  private safeDump(): string {
    try {
      return this.cpu.dump();
    } catch (e) {
      return `(dump failed: ${(e as Error).message})`;
    }
  }
}

/** The stop a vCPU returns for an op the machine carries out. */
export function m5opStop(func: number, args: readonly bigint[]): CpuStop {
  return Object.freeze({ reason: 'm5op', op: m5opName(func), func, args: Object.freeze([...args]), hostTimeNs: process.hrtime.bigint() });
}

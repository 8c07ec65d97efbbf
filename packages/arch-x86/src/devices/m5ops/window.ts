/**
 * gem5's m5op MMIO window on x86: a read of base + (func << 8) calls op `func` with the
 * arguments in rdi, rsi, rdx, rcx, r8, r9; the value read is the result (gem5's util/m5 reads it
 * into rax, with any destination register it is the same). base is gem5's x86 m5ops_base,
 * 0xFFFF0000, unless configured. A write calls the op too and drops the result; bits [7:0] of
 * the offset are ignored, as in gem5. The guest must map the window (identity-mapped flat boots
 * need `mapBytes` up to 4 GiB) and RAM must not cover it.
 */
import { ConfigError, M5OP_WINDOW_SIZE, checkDeviceOptions, m5opFuncFromOffset, type AccessSize, type Device, type DeviceContext, type DevicePlugin, type HighWord, type M5opFileOptions } from '@kvmts/core';
import { X86M5opCaller, checkedFileOptions } from './caller';

export interface M5opsWindowOptions extends M5opFileOptions {
  /** Guest-physical base of the 64 KiB window. Default 0xFFFF0000 (gem5's x86 m5ops_base). */
  readonly address?: number;
}

export const M5OPS_WINDOW_DEFAULT_ADDRESS = 0xffff0000;
const LOW32 = 0xffffffffn;

function checked(options: M5opsWindowOptions | undefined): { address: number; files: M5opFileOptions } {
  const o = checkDeviceOptions('m5ops-window', options, ['address', 'readfile', 'outdir']);
  const address = o.address ?? M5OPS_WINDOW_DEFAULT_ADDRESS;
  if (typeof address !== 'number' || !Number.isSafeInteger(address) || address < 0 || address % 0x1000 !== 0 || address + M5OP_WINDOW_SIZE > 2 ** 52) {
    throw new ConfigError('m5ops-window.address', `must be a page-aligned guest-physical address with 64 KiB above it, got ${String(address)}`);
  }
  return { address, files: checkedFileOptions('m5ops-window', o) };
}

export class M5opsWindow implements Device {
  readonly name: string;
  private readonly caller: X86M5opCaller | undefined;

  constructor(ctx: DeviceContext, files: M5opFileOptions) {
    this.name = ctx.name;
    this.caller = X86M5opCaller.forContext(ctx, files);
  }

  read(offset: number, _size: AccessSize, out: HighWord): number {
    const result = this.caller?.call(m5opFuncFromOffset(offset)) ?? 0n;
    out.high = Number((result >> 32n) & LOW32);
    return Number(result & LOW32);
  }

  write(offset: number): void {
    this.caller?.call(m5opFuncFromOffset(offset));
  }
}

export const m5opsWindowPlugin: DevicePlugin<M5opsWindowOptions> = {
  type: 'm5ops-window',
  validate(options) {
    checked(options);
  },
  placement(options) {
    return { mmio: [{ base: checked(options).address, size: M5OP_WINDOW_SIZE }] };
  },
  create(ctx, options) {
    return new M5opsWindow(ctx, checked(options).files);
  },
};

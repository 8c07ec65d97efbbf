/** gem5's m5ops on x86: the MMIO window (gem5's convention) and the port doorbell (the hypercall form). */
import type { DeviceSpec, M5opFileOptions } from '@kvmts/core';
import { ARCH_X86_MODULE } from '../../module-name';
import { m5opsWindowPlugin, type M5opsWindowOptions } from './window';
import { m5opsDoorbellPlugin, type M5opsDoorbellOptions } from './doorbell';

export * from './caller';
export * from './window';
export * from './doorbell';

export interface M5opsOptions extends M5opFileOptions {
  /** MMIO window base (default 0xFFFF0000). */
  readonly address?: number;
  /** Doorbell port (default 0x58). */
  readonly port?: number;
}

/** DeviceSpecs for both m5op calling conventions, sharing the host-file options: `devices: [...m5ops({ readfile, outdir })]`. */
export function m5ops(options: M5opsOptions = {}): DeviceSpec[] {
  const { address, port, ...files } = options;
  return [m5opsWindow({ ...files, ...(address !== undefined ? { address } : {}) }), m5opsDoorbell({ ...files, ...(port !== undefined ? { port } : {}) })];
}

/** The MMIO window alone (instance name 'm5ops-window' unless given). */
export function m5opsWindow(options: M5opsWindowOptions = {}, name = 'm5ops-window'): DeviceSpec<M5opsWindowOptions> {
  return { plugin: ARCH_X86_MODULE, type: m5opsWindowPlugin.type, name, options };
}

/** The port doorbell alone (instance name 'm5ops-doorbell' unless given). */
export function m5opsDoorbell(options: M5opsDoorbellOptions = {}, name = 'm5ops-doorbell'): DeviceSpec<M5opsDoorbellOptions> {
  return { plugin: ARCH_X86_MODULE, type: m5opsDoorbellPlugin.type, name, options };
}

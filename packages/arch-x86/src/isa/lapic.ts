/**
 * The local APIC register page as KVM_GET/SET_LAPIC holds it (the first 0x400 bytes of the
 * xAPIC page, 32-bit registers at a 16-byte stride; Intel SDM vol. 3 §11.4.1).
 */
export const LAPIC_REG = {
  ID: 0x20,
  VERSION: 0x30,
  TPR: 0x80,
  SVR: 0xf0,
  LVT_TIMER: 0x320,
  LVT_LINT0: 0x350,
  LVT_LINT1: 0x360,
} as const;

/** LVT delivery mode, bits 10:8. */
export const LVT_DELIVERY_MASK = 0x700;
export const LVT_DELIVERY = { FIXED: 0x000, SMI: 0x200, NMI: 0x400, INIT: 0x500, EXTINT: 0x700 } as const;

export function readLapicReg(page: Uint8Array, reg: number): number {
  return new DataView(page.buffer, page.byteOffset, page.byteLength).getUint32(reg, true);
}

export function writeLapicReg(page: Uint8Array, reg: number, value: number): void {
  new DataView(page.buffer, page.byteOffset, page.byteLength).setUint32(reg, value >>> 0, true);
}

/** Where application processors start (archOptions.apStart) and how ISA IRQs are routed (gsiRouting), decided before any vCPU exists. */
import { ConfigError, KvmMpState } from '@kvmts/core';
import { X86Irqchip, X86_DEFAULT_GSI_ROUTES, X86_PC_GSI_ROUTES, apStartState, x86MachineOptions } from '../src';

describe('archOptions.apStart', () => {
  it("defaults to 'entry' and accepts 'sipi' with the in-kernel irqchip", () => {
    expect(x86MachineOptions(undefined).apStart).toBe('entry');
    expect(x86MachineOptions({ irqchip: 'kernel' }).apStart).toBe('entry');
    expect(x86MachineOptions({ irqchip: 'kernel', apStart: 'sipi' }).apStart).toBe('sipi');
  });

  it("refuses 'sipi' without in-kernel LAPICs, and unknown values, naming the option", () => {
    expect(() => x86MachineOptions({ apStart: 'sipi' })).toThrow(ConfigError);
    expect(() => x86MachineOptions({ irqchip: 'userspace', apStart: 'sipi' })).toThrow(/archOptions.apStart: 'sipi' needs archOptions.irqchip 'kernel'/);
    expect(() => x86MachineOptions({ irqchip: 'kernel', apStart: 'init' })).toThrow(/archOptions.apStart: must be 'entry' or 'sipi', got "init"/);
  });

  it('gives each vCPU its MP state and says whether the boot registers apply', () => {
    // The BSP always takes the boot payload.
    expect(apStartState(0, 'sipi', true, true)).toEqual({ bootRegisters: true });
    // 'sipi': APs wait for SIPI with their reset registers.
    expect(apStartState(1, 'sipi', true, true)).toEqual({ mpState: KvmMpState.INIT_RECEIVED, bootRegisters: false });
    // 'entry': APs run at the entry at once.
    expect(apStartState(3, 'entry', true, true)).toEqual({ mpState: KvmMpState.RUNNABLE, bootRegisters: true });
    // No in-kernel LAPIC (every vCPU is runnable) or no boot payload (a restore): nothing to set.
    expect(apStartState(1, 'entry', false, true)).toEqual({ bootRegisters: true });
    expect(apStartState(1, 'sipi', true, false)).toEqual({ bootRegisters: true });
  });
});

describe('archOptions.gsiRouting', () => {
  it("defaults to KVM's routes; 'pc' needs the in-kernel irqchip", () => {
    expect(x86MachineOptions({ irqchip: 'kernel' }).gsiRouting).toBe('kvm');
    expect(x86MachineOptions({ irqchip: 'kernel', gsiRouting: 'pc' }).gsiRouting).toBe('pc');
    expect(() => x86MachineOptions({ gsiRouting: 'pc' })).toThrow(/archOptions.gsiRouting: 'pc' routes the in-kernel irqchip's GSIs/);
    expect(() => x86MachineOptions({ irqchip: 'kernel', gsiRouting: 'qemu' })).toThrow(ConfigError);
  });

  it("'pc' routes GSI 0 to PIC pin 0 and IOAPIC pin 2, leaves GSI 2 unrouted, and keeps every other default route", () => {
    const of = (routes: typeof X86_PC_GSI_ROUTES, gsi: number) => routes.filter((r) => r.gsi === gsi);
    expect(of(X86_PC_GSI_ROUTES, 0)).toEqual([
      { kind: 'irqchip', gsi: 0, irqchip: X86Irqchip.IOAPIC, pin: 2 },
      { kind: 'irqchip', gsi: 0, irqchip: X86Irqchip.PIC_MASTER, pin: 0 },
    ]);
    expect(of(X86_PC_GSI_ROUTES, 2)).toEqual([]);
    expect(X86_PC_GSI_ROUTES.filter((r) => r.gsi > 2)).toEqual(X86_DEFAULT_GSI_ROUTES.filter((r) => r.gsi > 2));
    expect(of(X86_PC_GSI_ROUTES, 1)).toEqual(of(X86_DEFAULT_GSI_ROUTES, 1));
  });
});

/**
 * A device's reset request (DeviceContext.requestReset, x86's i8042 and port 0x92): deferred
 * past the device's lock like a power-off, and turned by a vCPU thread's device context into
 * the one reset stop, Stop.systemReset — what KVM_SYSTEM_EVENT_RESET gives.
 */
import {
  AddressBuses,
  DEVICE_PLUGIN,
  DeferredEffects,
  KvmSystemEvent,
  Stop,
  attachVcpuDevices,
  combineStops,
  createIsolatedContainer,
  type CpuStop,
  type DeviceContext,
  type DevicePlugin,
  type KvmCPU,
} from '@kvmts/core';

describe('device reset requests', () => {
  it('Stop.systemReset is the RESET system event with no data', () => {
    expect(Stop.systemReset).toEqual({ reason: 'system-event', event: KvmSystemEvent.RESET, flags: 0n });
    expect(Object.isFrozen(Stop.systemReset)).toBe(true);
  });

  it('DeferredEffects holds a reset until delivered, after the console bytes, once', () => {
    const calls: string[] = [];
    const ctx = { consoleWrite: (b: number) => calls.push(`byte ${b}`), requestPowerOff: (s: number) => calls.push(`off ${s}`), requestReset: () => calls.push('reset') };
    const effects = new DeferredEffects();
    effects.consoleWrite(0x41);
    effects.requestReset();
    expect(calls).toEqual([]);
    effects.deliver(ctx);
    expect(calls).toEqual(['byte 65', 'reset']);
    effects.deliver(ctx);
    expect(calls).toEqual(['byte 65', 'reset']);
  });

  it('a context without requestReset (a hand-made one) drops the request instead of throwing', () => {
    const effects = new DeferredEffects();
    effects.requestReset();
    expect(() => effects.deliver({ consoleWrite: () => undefined, requestPowerOff: () => undefined })).not.toThrow();
  });

  it("a vCPU thread's device context stops that vCPU with Stop.systemReset", () => {
    let captured: DeviceContext | undefined;
    const plugin: DevicePlugin = {
      type: 'resetter',
      validate: () => undefined,
      placement: () => ({}),
      create: (ctx) => {
        captured = ctx;
        return { name: ctx.name, read: () => 0, write: () => undefined };
      },
    };
    const container = createIsolatedContainer();
    container.register(DEVICE_PLUGIN, { useValue: plugin });
    const stops: CpuStop[] = [];
    const cpu = { id: 1, buses: new AddressBuses([]), requestStop: (s: CpuStop) => stops.push(s) } as unknown as KvmCPU;
    attachVcpuDevices(container, cpu, [{ spec: { plugin: 'test', type: 'resetter', options: {} }, name: 'resetter', shared: new SharedArrayBuffer(0) }], {
      consoleWrite: () => undefined,
      setIrqLine: () => undefined,
    });
    captured!.requestReset!();
    expect(stops).toEqual([Stop.systemReset]);
  });

  it('a power-off in the same run wins over a reset (the guest did power off)', () => {
    expect(combineStops(Stop.systemReset, Stop.poweroff(3))).toEqual({ reason: 'poweroff', status: 3 });
  });
});

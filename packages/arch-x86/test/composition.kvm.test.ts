/**
 * The machine's container is the composition root: after createMachine every token resolves to
 * the live object, and overrides registered by a user — the VM on the main thread, the CPU and a
 * device from a plugin package loaded in every thread — are the ones the machine runs with.
 */
import * as path from 'node:path';
import { container as rootContainer } from 'tsyringe';
import {
  ARCH_PLUGIN,
  DEVICE_PLUGIN,
  DefaultKvmVM,
  KVM,
  KVM_VM,
  MACHINE_CONFIG,
  VM_OPTIONS,
  createIsolatedContainer,
  createMachine,
  deviceToken,
  type Kvm,
  type KvmVmOptions,
  type MemoryRegion,
  type MemoryRegionOptions,
} from '@kvmts/core';
import { assembleGuest, exitDevice, uart8250, type GuestImage } from '@kvmts/arch-x86';

const overridePackage = path.resolve(__dirname, 'fixtures/override-plugin');

/** A user's VM: the shipped one, logging every memory slot it adds. */
class SlotLoggingVM extends DefaultKvmVM {
  readonly slotLog: string[] = [];
  override addMemoryRegion(options: MemoryRegionOptions): MemoryRegion {
    const r = super.addMemoryRegion(options);
    this.slotLog.push(`${r.name}@0x${r.guestPhysAddr.toString(16)}+0x${r.size.toString(16)} slot ${r.slot}`);
    return r;
  }
}

let tests: GuestImage;
beforeAll(() => {
  tests = assembleGuest('long-mode-tests');
});

function pioGuest() {
  return { kind: 'flat' as const, mode: 'long' as const, cpl: 3 as const, image: tests.bytes, entry: tests.symbols.get('pio_basic')! };
}

describeKvm('composition through the machine container', () => {
  it('resolving each token after createMachine yields the live object; the global root stays empty', async () => {
    const config = { arch: 'x86_64', memory: '8M', devices: [exitDevice({}, 'exit'), uart8250({}, 'com1')], boot: pioGuest() };
    const m = await createMachine(config);
    try {
      expect(m.container.resolve(KVM)).toBe(m.kvm);
      expect(m.container.resolve(KVM_VM)).toBe(m.vm);
      expect(m.container.resolve(MACHINE_CONFIG)).toBe(config);
      expect(m.container.resolve<KvmVmOptions>(VM_OPTIONS)).toEqual({ type: 0 });
      expect(m.vm).toBeInstanceOf(DefaultKvmVM);
      expect(m.container.resolve(deviceToken('exit'))).toBe(m.device('exit'));
      expect(m.container.resolve(ARCH_PLUGIN)).toBe(m.arch);
      expect(m.device('com1').name).toBe('com1');
      for (const token of [ARCH_PLUGIN, DEVICE_PLUGIN, KVM, KVM_VM]) expect(rootContainer.isRegistered(token, true)).toBe(false);
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
    } finally {
      await m.close();
    }
  });

  it('a VM registered by the user, a CPU and a device from a plugin package are the ones that run', async () => {
    const parent = createIsolatedContainer();
    parent.register(KVM_VM, { useFactory: (c) => new SlotLoggingVM(c.resolve<Kvm>(KVM), c.resolve<KvmVmOptions>(VM_OPTIONS)) });
    const out: number[] = [];
    const m = await createMachine(
      { arch: 'x86_64', memory: '8M', cpus: 1, plugins: [overridePackage], devices: [exitDevice({}, 'exit')], boot: pioGuest() },
      { container: parent, console: (b) => out.push(...b) },
    );
    try {
      // The VM: resolved from the parent's registration, pinned in the machine's container.
      expect(m.vm).toBeInstanceOf(SlotLoggingVM);
      expect(m.container.resolve(KVM_VM)).toBe(m.vm);
      expect((m.vm as SlotLoggingVM).slotLog).toEqual(['ram-low@0x0+0x800000 slot 0']);
      // The device double served the guest's exit write in the vCPU thread.
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
      expect(Buffer.from(out).toString()).toBe('[double: power-off 0]');
      // The CPU: the plugin's CountingCPU handled the guest's port I/O (3 out, 3 in, 1 exit write),
      // in a thread whose tsyringe root was never used.
      const dump = await m.vcpus[0].call<string>('dump');
      expect(dump).toContain('CountingCPU ioExits=7 tokensLive=true rootUntouched=true');
      // The main thread uses the double too (the plugin module loads after arch-x86 there as well).
      expect(m.device('exit').constructor).toBe(Object);
      expect(m.container.resolve(ARCH_PLUGIN)).toMatchObject({ arch: 'x86_64' });
      // The machine's container is a child of the user's, not of the global root.
      expect(parent.isRegistered(KVM_VM)).toBe(true);
      expect(rootContainer.isRegistered(KVM_VM, true)).toBe(false);
    } finally {
      await m.close();
    }
  });

  it('VM options from the parent reach the VM; an object registered as an instance cannot serve two machines', async () => {
    const parent = createIsolatedContainer();
    parent.register(VM_OPTIONS, { useValue: { maxMemorySlots: 3 } });
    const m = await createMachine({ arch: 'x86_64', memory: '8M', devices: [exitDevice()], boot: pioGuest() }, { container: parent });
    try {
      expect(m.vm.memorySlotLimit).toBe(3);
      expect(m.container.resolve<KvmVmOptions>(VM_OPTIONS)).toEqual({ maxMemorySlots: 3, type: 0 });
      const sharing = createIsolatedContainer();
      sharing.registerInstance(KVM, m.kvm);
      await expect(createMachine({ arch: 'x86_64', memory: '8M' }, { container: sharing })).rejects.toThrow(/the object registered under KVM is already used by another machine: register a class or a factory/);
    } finally {
      await m.close();
    }
  });
});

/**
 * INIT/SIPI bring-up on real KVM with the in-kernel irqchip (archOptions.apStart 'sipi'): the
 * APs wait for SIPI; the BSP finds them in the MP tables (buildMpTable, at 0xF0000) and starts
 * each with INIT + STARTUP through its LAPIC's ICR; each AP begins in real mode at
 * vector × 0x1000, writes its APIC id and CS, and halts. The `smp-tests` guest.
 */
import { KvmMpState, createMachine, type Machine } from '@kvmts/core';
import { assembleGuest, buildMpTable, exitDevice, mpTablePlacements, readExitDeviceState, type X86Boot, type X86ThreadContextData } from '@kvmts/arch-x86';

const guest = assembleGuest('smp-tests');
const sym = (name: string): number => guest.symbols.get(name)!;

async function smpMachine(cpus: number, entry: string): Promise<Machine<X86Boot>> {
  return createMachine({
    arch: 'x86_64',
    memory: '16M',
    cpus,
    archOptions: { irqchip: 'kernel', apStart: 'sipi' },
    devices: [exitDevice({}, 'exit')],
    boot: { kind: 'flat', mode: 'long', cpl: 0, image: guest.bytes, entry: sym(entry), mapBytes: 2 ** 32, data: mpTablePlacements(buildMpTable({ cpus })) },
  });
}

async function mpState(m: Machine<X86Boot>, id: number): Promise<number> {
  return (await m.vcpus[id].call<X86ThreadContextData>('threadContext')).mpState;
}

describeKvm('SMP bring-up with INIT/SIPI', () => {
  it('the BSP starts both APs of a 3-vCPU machine from the MP table; each runs in real mode at vector × 0x1000 and halts', async () => {
    const m = await smpMachine(3, 'bsp_start');
    try {
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
      expect(readExitDeviceState(m.deviceState.get('exit')!).result).toBe(2);
      const mem = m.vm.memory();
      const ids = new DataView(mem.read(sym('ap_ids'), 12).buffer);
      // 0x100 | CPUID's initial APIC id, in the AP's own slot; the BSP's slot stays empty.
      expect([0, 1, 2].map((i) => ids.getUint32(4 * i, true))).toEqual([0, 0x101, 0x102]);
      const vector = sym('ap_trampoline') >> 12;
      expect(vector).toBe(9);
      const cs = new DataView(mem.read(sym('ap_cs'), 6).buffer);
      expect([1, 2].map((i) => cs.getUint16(2 * i, true))).toEqual([vector << 8, vector << 8]);
      expect(new DataView(mem.read(sym('ap_count'), 4).buffer).getUint32(0, true)).toBe(2);
      // Each AP ended in its `hlt`, which the in-kernel LAPIC holds as HALTED.
      expect(await mpState(m, 1)).toBe(KvmMpState.HALTED);
      expect(await mpState(m, 2)).toBe(KvmMpState.HALTED);
    } finally {
      await m.close();
    }
  });

  it('without INIT/SIPI the AP never runs: it is still waiting for SIPI when the BSP powers off', async () => {
    const m = await smpMachine(2, 'bsp_alone');
    try {
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
      expect(new DataView(m.vm.memory().read(sym('ap_count'), 4).buffer).getUint32(0, true)).toBe(0);
      expect(await mpState(m, 1)).toBe(KvmMpState.INIT_RECEIVED);
      expect(m.exitCounts()[1].IO ?? 0).toBe(0);
    } finally {
      await m.close();
    }
  });
});

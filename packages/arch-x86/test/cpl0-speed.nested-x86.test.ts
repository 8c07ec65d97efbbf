/**
 * Nested x86 tier only (inside the QEMU-emulated host with nested kvm_amd, docs/testing.md):
 * guest CPL0 code runs at hardware-virtualization speed there. On the project machine's PVM
 * KVM every CPL0 instruction is emulated (~0.3 µs each), so this guest would take ~30 s.
 *
 * The guest is long-mode-tests' `sum_loop` at CPL0 (`add; dec; jnz`, three instructions per
 * iteration), run through X86KvmCPU like every other suite.
 */
import { assembleGuest, exitDevice } from '@kvmts/arch-x86';
import { makeRig } from './support/harness';

/** Three instructions per iteration: 10^8 CPL0 instructions in all (plus a few). */
const ITERATIONS = 33_333_334n;
const LIMIT_SECONDS = 5;

describe('nested x86: CPL0 guest code runs at hardware speed', () => {
  it(`runs 10^8 long-mode CPL0 instructions in under ${LIMIT_SECONDS} s`, () => {
    const guest = assembleGuest('long-mode-tests');
    const rig = makeRig({ kind: 'flat', mode: 'long', cpl: 0, image: guest.bytes, entry: guest.symbols.get('sum_loop')!, registers: { rcx: ITERATIONS } }, { devices: [exitDevice()] });
    try {
      const cpu = rig.cpus[0];
      expect(cpu.getSregs().cs.dpl).toBe(0);
      const t0 = process.hrtime.bigint();
      expect(cpu.runLoop()).toEqual({ reason: 'poweroff', status: 0 });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      expect(cpu.getRegs().rbx).toBe((ITERATIONS * (ITERATIONS + 1n)) / 2n);
      console.log(`nested x86: 1e8 CPL0 instructions in ${seconds.toFixed(3)} s (${(seconds * 10).toFixed(2)} ns each)`);
      expect(seconds).toBeLessThan(LIMIT_SECONDS);
    } finally {
      rig.close();
    }
  });
});

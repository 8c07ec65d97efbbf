/**
 * Nested x86 tier only (runs inside the QEMU-emulated host with nested kvm_amd, see
 * docs/testing.md): guest CPL0 code runs at hardware-virtualization speed there, unlike on the
 * project machine's PVM KVM, which emulates every CPL0 instruction (~0.3 µs each, so this test
 * would take ~30 s there).
 *
 * Guest: scripts/nested/guest-asm/x86/cpl0-loop.s (`dec ecx; jnz` then `hlt`), assembled by
 * the nested runner and handed in as $KVMTS_GUEST_ASM/cpl0-loop.bin, placed at the reset vector.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as native from '@kvmts/native';
import { Kvm, KvmVM, KvmRunLayout, KvmExitReason, ConfigError, ior, iow } from '@kvmts/core';

/** x86 `struct kvm_regs` (18 × u64) and its ioctls: only what this test touches. */
const X86Regs = { rcx: 16, rip: 128, rflags: 136, size: 144 } as const;
const KVM_GET_REGS = ior(0x81, X86Regs.size);
const KVM_SET_REGS = iow(0x82, X86Regs.size);

const RESET_REGION = { base: 0xffff0000, size: 0x10000 } as const;
const RESET_VECTOR = 0xfffffff0;
/** Two instructions per iteration: 10^8 CPL0 instructions in all. */
const ITERATIONS = 50_000_000;
const LIMIT_SECONDS = 5;

function guestProgram(name: string): Buffer {
  const dir = process.env.KVMTS_GUEST_ASM;
  if (!dir) throw new ConfigError('KVMTS_GUEST_ASM', 'unset: this suite runs inside the nested x86 host (npm run test:nested:x86)');
  return fs.readFileSync(path.join(dir, name));
}

describe('nested x86: CPL0 guest code runs at hardware speed', () => {
  let kvm: Kvm;
  let vm: KvmVM;

  beforeAll(() => {
    kvm = Kvm.open();
    vm = new KvmVM(kvm);
  });
  afterAll(() => {
    vm?.close();
    kvm?.close();
  });

  it(`runs ${ITERATIONS * 2} real-mode instructions in under ${LIMIT_SECONDS} s`, () => {
    const code = guestProgram('cpl0-loop.bin');
    vm.addMemoryRegion({ name: 'reset', guestPhysAddr: RESET_REGION.base, size: RESET_REGION.size });
    vm.memory().write(RESET_VECTOR, code);
    const vcpu = vm.createVcpu(0);
    const run = new DataView(native.mappingById(vcpu.runMappingId).view(0, KvmRunLayout.size));

    const regs = new DataView(new ArrayBuffer(X86Regs.size));
    native.ioctl(vcpu.fd, KVM_GET_REGS, regs);
    expect(regs.getBigUint64(X86Regs.rip, true)).toBe(0xfff0n); // reset state: CS:IP = F000:FFF0
    regs.setBigUint64(X86Regs.rcx, BigInt(ITERATIONS), true);
    native.ioctl(vcpu.fd, KVM_SET_REGS, regs);

    const t0 = process.hrtime.bigint();
    let reason = -1;
    for (let entries = 0; entries < 100; entries++) {
      const rc = native.run(vcpu.fd);
      if (rc === -4) continue; // EINTR: a host signal, not a guest exit
      expect(rc).toBe(0);
      reason = run.getUint32(KvmRunLayout.exit_reason, true);
      if (reason !== KvmExitReason.INTR && reason !== KvmExitReason.IRQ_WINDOW_OPEN) break;
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

    expect(KvmExitReason[reason]).toBe('HLT');
    native.ioctl(vcpu.fd, KVM_GET_REGS, regs);
    expect(regs.getBigUint64(X86Regs.rcx, true)).toBe(0n); // the loop ran to the end
    expect(regs.getBigUint64(X86Regs.rip, true)).toBe(0xfff0n + BigInt(code.length)); // past the hlt
    console.log(`nested x86: ${ITERATIONS * 2} CPL0 instructions in ${seconds.toFixed(3)} s (${((seconds * 1e9) / (ITERATIONS * 2)).toFixed(2)} ns each)`);
    expect(seconds).toBeLessThan(LIMIT_SECONDS);
  });
});

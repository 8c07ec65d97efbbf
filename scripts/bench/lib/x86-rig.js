'use strict';
/**
 * One kvmts x86 VM with one vCPU, driven synchronously on this thread — the same set-up as
 * packages/arch-x86/test/support/harness.ts — and the dump of its prepared state that the C
 * baseline loads, so both sides start from identical memory and registers.
 */
const fs = require('node:fs');
const path = require('node:path');
const { Kvm, KvmVM } = require('@kvmts/core');
const { X86KvmCPU, x86ArchPlugin, encodeCpuid2, encodeRegs, encodeSregs, X86RegsLayout, X86SregsLayout } = require('@kvmts/arch-x86');

/** Guest RAM from GPA 0: holds the image at 0x8000, the stack, GDT and page tables. */
const RAM_BYTES = 4 << 20;

/** @returns {{ vm: KvmVM, cpu: X86KvmCPU, state: object, close(): void }} */
function makeRig(boot) {
  const kvm = Kvm.open();
  const vm = new KvmVM(kvm);
  try {
    const config = { arch: 'x86_64', memory: 0, cpus: 1, boot };
    x86ArchPlugin.configureVm(vm, config);
    vm.addMemoryRegion({ name: 'ram', guestPhysAddr: 0, size: RAM_BYTES });
    const handles = vm.createVcpu(0);
    vm.lifecycle.moveTo('ready');
    const [state] = x86ArchPlugin.prepareBoot(vm, vm.memory(), config);
    const cpu = new X86KvmCPU(handles.describe(), { unclaimed: 'error' });
    cpu.applyInitialState(state);
    return {
      vm,
      cpu,
      state,
      close() {
        cpu.close();
        vm.close();
        kvm.close();
      },
    };
  } catch (e) {
    vm.close();
    kvm.close();
    throw e;
  }
}

function bytesOf(view) {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * Write what a fresh rig for `boot` holds into `dir` (mem.bin, cpuid.bin, sregs.bin, regs.bin —
 * the files baseline.c reads). Registers are read back from KVM after applyInitialState, so the
 * baseline gets exactly the vCPU state kvmts runs with, reset defaults included.
 */
function dumpInitialState(boot, dir) {
  const rig = makeRig(boot);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'mem.bin'), rig.vm.memory().read(0, RAM_BYTES));
    fs.writeFileSync(path.join(dir, 'cpuid.bin'), bytesOf(encodeCpuid2(rig.state.cpuid)));
    const sregs = new DataView(new ArrayBuffer(X86SregsLayout.size));
    encodeSregs(rig.cpu.getSregs(), sregs);
    fs.writeFileSync(path.join(dir, 'sregs.bin'), bytesOf(sregs));
    const regs = new DataView(new ArrayBuffer(X86RegsLayout.size));
    encodeRegs(rig.cpu.getRegs(), regs);
    fs.writeFileSync(path.join(dir, 'regs.bin'), bytesOf(regs));
  } finally {
    rig.close();
  }
}

module.exports = { makeRig, dumpInitialState, RAM_BYTES };

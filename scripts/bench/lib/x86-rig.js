'use strict';
/**
 * One kvmts x86 VM with one vCPU, driven synchronously on this thread (set up by core's
 * prepareVm, the sequence machines and the test harness use too), and the dump of its prepared
 * state that the C baseline loads, so both sides start from identical memory and registers.
 */
const fs = require('node:fs');
const path = require('node:path');
const { attachVcpuDevices, buildVcpu, createMachineContainer, loadPlugins, prepareDevices, prepareVm, vcpuBuildInfos } = require('@kvmts/core');
const { ARCH_X86_MODULE, exitDevice, x86ArchPlugin, encodeCpuid2, encodeRegs, encodeSregs, X86RegsLayout, X86SregsLayout } = require('@kvmts/arch-x86');

/** Guest RAM from GPA 0: holds the image at 0x8000, the stack, GDT and page tables. */
const RAM_BYTES = 4 << 20;

/**
 * The VM, its vCPU and the exit device (port 0xf4), composed by core's functions as a machine
 * composes them; `archOptions` as in MachineConfig (e.g. { irqchip: 'kernel' }).
 * @returns {{ vm: KvmVM, cpu: X86KvmCPU, state: object, close(): void }}
 */
function makeRig(boot, archOptions) {
  const container = createMachineContainer();
  loadPlugins(container, [ARCH_X86_MODULE]);
  const devices = prepareDevices(container, [exitDevice()], x86ArchPlugin.addressSpaces);
  const prepared = prepareVm({ arch: 'x86_64', memory: RAM_BYTES, cpus: 1, boot, archOptions }, x86ArchPlugin, container);
  try {
    const [info] = vcpuBuildInfos(prepared);
    const { container: vcpuContainer, cpu } = buildVcpu(container, x86ArchPlugin, info, { unclaimed: 'error' });
    attachVcpuDevices(vcpuContainer, cpu, devices, { consoleWrite: () => undefined, setIrqLine: (line, level) => prepared.vm.setIrqLine(line, level) });
    return {
      vm: prepared.vm,
      cpu,
      state: info.initialState,
      close() {
        cpu.close();
        prepared.close();
      },
    };
  } catch (e) {
    prepared.close();
    throw e;
  }
}

function bytesOf(view) {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * Write what a fresh rig for `boot` holds into `dir` (mem.bin, cpuid.bin, sregs.bin, regs.bin —
 * the files baseline.c reads — and msrs.bin, the u32 count and indices of the MSRs its context
 * carries, for baseline-sync.c). Registers are read back from KVM after applyInitialState, so
 * the baseline gets exactly the vCPU state kvmts runs with, reset defaults included.
 */
function dumpInitialState(boot, dir, archOptions) {
  const rig = makeRig(boot, archOptions);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'mem.bin'), rig.vm.memory().read(0, RAM_BYTES));
    fs.writeFileSync(path.join(dir, 'cpuid.bin'), bytesOf(encodeCpuid2(rig.state.cpuid)));
    const sregs = new DataView(new ArrayBuffer(X86SregsLayout.size));
    // kvm_sregs for the C side: the vCPU holds kvm_sregs2; a fresh vCPU has no pending interrupt.
    encodeSregs({ ...rig.cpu.getSregs(), interruptBitmap: [0n, 0n, 0n, 0n] }, sregs);
    fs.writeFileSync(path.join(dir, 'sregs.bin'), bytesOf(sregs));
    const regs = new DataView(new ArrayBuffer(X86RegsLayout.size));
    encodeRegs(rig.cpu.getRegs(), regs);
    fs.writeFileSync(path.join(dir, 'regs.bin'), bytesOf(regs));
    fs.writeFileSync(path.join(dir, 'msrs.bin'), Uint32Array.from([rig.state.msrList.length, ...rig.state.msrList]));
  } finally {
    rig.close();
  }
}

module.exports = { makeRig, dumpInitialState, RAM_BYTES };

/**
 * The GICv3 model's device-attribute face (gicv3/attr-io.ts) and the mux (kernel/gic-mux.ts) on
 * the host. The face has KVM's vGICv3 semantics (arm-vgic-v3.rst): registers hold what
 * userspace writes, ISPENDR is the pending latch (ICPENDR RAZ/WI), LEVEL_INFO carries the line
 * levels of level-sensitive interrupts — so saveVgicV3/restoreVgicV3 move a GIC's state into a
 * model and out again word for word. Here the "kernel" side of the mux is a second model behind
 * the same face (the real vGIC is in gic-mux.nested-arm64.test.ts).
 */
import * as fs from 'node:fs';
import * as native from '@kvmts/native';
import { ConfigError, IrqLineSwitch, KvmError, LifecycleError, ThreadedIrqLines, type IrqfdBinding, type IrqfdRoute, type KvmDevice, type KvmVM } from '@kvmts/core';
import { Arm64VgicGroup, encodeIrqLine } from '@kvmts/arch-arm64';
import {
  GIC_MUX_LINES,
  GicLineInput,
  GicMux,
  GicV3Model,
  KernelGic,
  cpuSysRegAttr,
  distRegAttr,
  gicV3AttrIo,
  levelInfoAttr,
  readVgicV3Registers,
  redistRegAttr,
  restoreVgicV3,
  saveVgicV3,
  type DeviceAttrIo,
} from '@kvmts/dev-gic';

const G = Arm64VgicGroup;
const MPIDRS = [0n, 1n];
const LAYOUT = { nrIrqs: 128, mpidrs: MPIDRS };
const PMR = { op0: 3, op1: 0, crn: 4, crm: 6, op2: 0 };

/** A GIC as a guest left it: SPIs 40 (edge, pending), 41 (level, line high), 42 (routed to CPU 1), priorities, PMR. */
function programmed(): GicV3Model {
  const m = new GicV3Model({ mpidrs: MPIDRS, nrIrqs: 128 });
  m.writeDistributor(0x0, 0x2);
  m.writeDistributor(0x84, 0x700);
  m.writeDistributor(0x428, 0x20a0_4080);
  m.writeDistributor(0xc08, 2 << 16);
  m.writeDistributor(0x6000 + 8 * 42, 1);
  m.writeDistributor(0x104, 0x700);
  m.writeRedistributor(0, 0x14, 0);
  m.writeSysReg(0, 'ICC_PMR_EL1', 0x30n);
  m.writeSysReg(0, 'ICC_IGRPEN1_EL1', 1n);
  m.setSpi(40, true);
  m.setSpi(40, false);
  m.setSpi(41, true);
  return m;
}

describe('the GICv3 model through KVM’s device attributes', () => {
  it('ISPENDR reads and writes the latch, ICPENDR is RAZ/WI, LEVEL_INFO holds level lines only', () => {
    const m = programmed();
    const io = gicV3AttrIo(m);
    expect(m.readDistributor(0x204)).toBe(0x300); // the guest sees 40 (latch) and 41 (line)
    expect(io.getAttr(G.DIST_REGS, distRegAttr(0x204))).toBe(0x100n); // the latch only
    expect(io.getAttr(G.DIST_REGS, distRegAttr(0x284))).toBe(0n);
    expect(io.getAttr(G.LEVEL_INFO, levelInfoAttr(0n, 32))).toBe(0x200n); // 41's line; 40 is edge
    io.setAttr(G.DIST_REGS, distRegAttr(0x284), 0xffff_ffff); // WI
    io.setAttr(G.DIST_REGS, distRegAttr(0x204), 0x400); // the latch becomes exactly 42's
    expect(m.readDistributor(0x204)).toBe(0x600);
    io.setAttr(G.LEVEL_INFO, levelInfoAttr(0n, 32), 0x100); // 40 is edge: its line is not state
    expect(m.readDistributor(0x204)).toBe(0x400);
    expect(io.getAttr(G.CPU_SYSREGS, cpuSysRegAttr(0n, PMR))).toBe(0x30n);
    expect(io.getAttr(G.REDIST_REGS, redistRegAttr(1n, 0x8))).toBe(0x110n); // GICR_TYPER low word of CPU 1: processor 1, Last
  });

  it('refuses an mpidr it has no CPU for, a bad LEVEL_INFO word and groups it does not model', () => {
    const io = gicV3AttrIo(programmed());
    expect(() => io.getAttr(G.REDIST_REGS, redistRegAttr(5n, 0))).toThrow(/no CPU with affinity 0x5/);
    expect(() => io.getAttr(G.LEVEL_INFO, 33n)).toThrow(ConfigError);
    expect(() => io.getAttr(G.ITS_REGS, 0n)).toThrow(/not modelled/);
  });

  it('saveVgicV3 → restoreVgicV3 into a fresh model reads back every register equal, and the restored GIC behaves the same', () => {
    const from = programmed();
    const state = saveVgicV3(gicV3AttrIo(from), LAYOUT);
    expect(state.distributor.GICD_IPRIORITYR[2]).toBe(0x20a0_4080); // INTIDs 40–43
    expect(state.distributor.GICD_IROUTER.slice(20, 22)).toEqual([1, 0]); // IROUTER42, low and high word
    expect(state.spiLineLevels).toEqual([0x200, 0, 0]);
    const to = new GicV3Model({ mpidrs: MPIDRS, nrIrqs: 128 });
    restoreVgicV3(gicV3AttrIo(to), LAYOUT, state);
    expect(readVgicV3Registers(gicV3AttrIo(to), LAYOUT)).toEqual(readVgicV3Registers(gicV3AttrIo(from), LAYOUT));
    for (const m of [from, to]) {
      m.writeSysReg(0, 'ICC_PMR_EL1', 0xf0n);
      expect([m.acknowledge(0), m.acknowledge(1)]).toEqual([41, 1023]); // 41 (0x40) first; 42 is CPU 1's, which has Group 1 off
    }
  });

  it('a model answers only for the rows it is told the kernel implements, so the way back carries exactly those', () => {
    const io = gicV3AttrIo(programmed(), new Set(['GICD_IIDR', 'GICD_CTLR', 'GICD_ISENABLER']));
    const state = saveVgicV3(io, LAYOUT);
    expect(Object.keys(state.distributor).sort()).toEqual(['GICD_CTLR', 'GICD_IIDR', 'GICD_ISENABLER']);
    expect(state.cpus[0].redistributor).toEqual({});
  });
});

/** A KernelGic whose device is `kernel`'s attribute face (a stand-in vGICv3), and a record of lines KVM got. */
function kernelGic(kernel: DeviceAttrIo, o: { its?: boolean; version?: 2 | 3; irqfds?: IrqfdBinding[] } = {}) {
  const lines: [number, boolean][] = [];
  const vm = { setIrqLine: (line: number, level: boolean) => lines.push([line, level]), irqfds: () => o.irqfds ?? [] } as unknown as KvmVM;
  const device = kernel as unknown as KvmDevice;
  const gic = new KernelGic(vm, o.version ?? 3, device, o.its ? device : undefined, 128, MPIDRS, { name: 'intc', properties: [] });
  return { gic, lines };
}

describe('the GIC mux', () => {
  it('toModel hands every register to a model (equal read-back), inputs then reach the model, toKernel writes the model’s state back', async () => {
    const kernelSide = programmed();
    const kernelIo = gicV3AttrIo(kernelSide);
    const { gic, lines } = kernelGic(kernelIo);
    const mux = new GicMux(gic);
    expect(mux.holder).toBe('kernel');
    expect(() => mux.model).toThrow(LifecycleError);
    const before = readVgicV3Registers(kernelIo, LAYOUT);
    const model = await mux.toModel();
    expect(await mux.toModel()).toBe(model); // once
    expect(mux.holder).toBe('model');
    expect(mux.registers()).toEqual(before);

    model.writeSysReg(0, 'ICC_PMR_EL1', 0xf0n);
    expect(model.acknowledge(0)).toBe(41);
    model.endOfInterrupt(0, 41);
    gic.setSpi(41, false); // the line drops: in the model, not through KVM_IRQ_LINE
    gic.setSpi(43, true);
    expect(lines).toEqual([]);
    const handedBack = mux.registers();
    expect(handedBack['LEVEL_INFO 32']).toBe(0x800n); // 41's line low, 43's (level by default) high

    await mux.toKernel();
    expect(mux.holder).toBe('kernel');
    expect(readVgicV3Registers(kernelIo, LAYOUT)).toEqual(handedBack);
    expect(kernelSide.readSysReg(0, 'ICC_HPPIR1_EL1')).toBe(40n); // 41's line is low now; 40 still latched
    gic.setSpi(44, true);
    expect(lines.length).toBe(1); // KVM_IRQ_LINE again
    await mux.toKernel(); // nothing held: nothing to do
  });

  it('refuses a GIC with an ITS and a vGICv2 with a ConfigError naming them, and says a running vCPU holds the GIC', async () => {
    const io = gicV3AttrIo(programmed());
    await expect(new GicMux(kernelGic(io, { its: true }).gic).toModel()).rejects.toThrow(/gic\.its: the GIC has an ITS/);
    await expect(new GicMux(kernelGic(io, { version: 2 }).gic).toModel()).rejects.toThrow(/vGICv2 cannot be muxed/);
    const busy: DeviceAttrIo = {
      ...io,
      hasAttr: io.hasAttr,
      getAttr: () => {
        throw new KvmError('KVM_GET_DEVICE_ATTR', 16, 'EBUSY');
      },
    };
    const mux = new GicMux(kernelGic(busy).gic);
    await expect(mux.toModel()).rejects.toThrow(LifecycleError);
    await expect(mux.toModel()).rejects.toThrow(/while a vCPU is running/);
    expect(mux.holder).toBe('kernel');
  });

  it('while the model holds the GIC, the machine’s device lines (claimed on every thread) drive its inputs; they go back to KVM after, the level line’s level in the state (golden sequence)', async () => {
    const kernelIo = gicV3AttrIo(programmed());
    const { gic, lines: kvm } = kernelGic(kernelIo);
    const main = new IrqLineSwitch({ set: (line, level) => gic.vm.setIrqLine(line, level) });
    const calls: string[] = [];
    const machineLines = new ThreadedIrqLines(main, () => [{ call: async (method, by) => void calls.push(`${method}(${by})`) }]);
    const mux = new GicMux(gic);
    mux.useMachineLines(machineLines);
    const spi43 = encodeIrqLine({ type: 'spi', intid: 43 });
    const spi44 = encodeIrqLine({ type: 'spi', intid: 44 });

    const model = await mux.toModel();
    expect(main.claimant).toBe(GIC_MUX_LINES);
    expect(calls).toEqual([`forwardIrqLines(${GIC_MUX_LINES})`]);
    main.set(spi43, true); // a device's level line (43 is level by default) goes high while switched out
    main.set(spi44, true); // another's rises and falls
    main.set(spi44, false);
    expect(kvm).toEqual([]); // none reached KVM
    expect(model.readDistributor(0x204) & ((1 << 11) | (1 << 12))).toBe(1 << 11); // 43 pending by its line; 44 (level too) no longer
    expect(mux.registers()['LEVEL_INFO 32']! & 0x1800n).toBe(0x800n); // 43 high, 44 low

    await mux.toKernel();
    expect(main.claimant).toBe('');
    expect(calls).toEqual([`forwardIrqLines(${GIC_MUX_LINES})`, `releaseIrqLines(${GIC_MUX_LINES})`]);
    expect(readVgicV3Registers(kernelIo, LAYOUT)['LEVEL_INFO 32']! & 0x1800n).toBe(0x800n); // 43's level went back with the state
    main.set(spi43, false); // and now goes to KVM
    expect(kvm).toEqual([[spi43, false]]);
  });

  it('the VM’s irqfds are taken from the kernel while the model holds the GIC: a trigger pends its SPI (GSI + 32) in the model; the last ones are read before the state goes back, then the irqfds are bound again', async () => {
    const fds = [native.eventfd(0, 0), native.eventfd(0, 0)];
    try {
      const kernelSide = programmed();
      kernelSide.writeDistributor(0xc08, 0xaaaa_aaaa); // SPIs 32–47 edge: a trigger latches
      const kernelIo = gicV3AttrIo(kernelSide);
      const irqfds = [
        { gsi: 13, fd: fds[0] },
        { gsi: 14, fd: fds[1] },
      ];
      const { gic } = kernelGic(kernelIo, { irqfds });
      const log: string[] = [];
      const route: IrqfdRoute = { assign: (b) => void log.push(`assign ${b.gsi}`), deassign: (b) => void log.push(`deassign ${b.gsi}`) };
      const mux = new GicMux(gic, route);
      await mux.toModel();
      expect(log).toEqual(['deassign 13', 'deassign 14']);
      expect(() => gic.irqfd(50)).toThrow(LifecycleError); // one bound now would go to the kernel's stale GIC
      native.eventfdWrite(fds[0], 1n);
      expect(mux.model.readDistributor(0x204) & (1 << 13)).toBe(1 << 13); // SPI 45 latched (reading the model drains first)
      native.eventfdWrite(fds[1], 1n); // read by toKernel before the state moves
      await mux.toKernel();
      expect(log).toEqual(['deassign 13', 'deassign 14', 'assign 13', 'assign 14']);
      expect(kernelSide.readDistributor(0x204, 'user') & ((1 << 13) | (1 << 14))).toBe((1 << 13) | (1 << 14));
    } finally {
      fds.forEach((fd) => fs.closeSync(fd));
    }
  });

  it('refuses an irqfd whose GSI names an SPI the GIC lacks, naming the eventfd', async () => {
    const { gic } = kernelGic(gicV3AttrIo(programmed()), { irqfds: [{ gsi: 200, fd: 77 }] });
    const mux = new GicMux(gic, { assign: () => undefined, deassign: () => undefined });
    expect(mux.refusal()).toBeInstanceOf(ConfigError);
    await expect(mux.toModel()).rejects.toThrow('irqfd: the irqfd of eventfd 77 raises GSI 200, SPI 232, which this GIC (128 INTIDs) does not have');
    expect(mux.holder).toBe('kernel');
  });

  it('GicLineInput: a device line (KVM_IRQ_LINE value) drives the GIC’s SPI or that vCPU’s PPI on whichever side holds it; a CPU line passes to KVM', async () => {
    const { gic, lines: kvm } = kernelGic(gicV3AttrIo(programmed()));
    const input = new GicLineInput(gic);
    const spi43 = encodeIrqLine({ type: 'spi', intid: 43 });
    const ppi23 = encodeIrqLine({ type: 'ppi', vcpu: 1, intid: 23 });
    const irq0 = encodeIrqLine({ type: 'cpu', vcpu: 0, line: 'irq' });
    input.set(spi43, true);
    input.set(ppi23, true);
    expect(kvm).toEqual([
      [spi43, true],
      [ppi23, true],
    ]);
    const mux = new GicMux(gic);
    const model = await mux.toModel();
    kvm.length = 0;
    input.set(spi43, false);
    input.set(ppi23, false);
    input.set(encodeIrqLine({ type: 'ppi', vcpu: 1, intid: 22 }), true);
    input.set(irq0, true);
    expect(kvm).toEqual([[irq0, true]]);
    const registers = mux.registers();
    expect(registers['cpu1 LEVEL_INFO 0']).toBe(1n << 22n); // vCPU 1's PPI lines: 22 high, 23 low again
    expect(registers['cpu0 LEVEL_INFO 0']).toBe(0n);
    expect(registers['LEVEL_INFO 32']! & (1n << 11n)).toBe(0n); // SPI 43's line low
  });
});

/**
 * The devicetree of a kvmts arm64 machine, as a pure function of what the machine has (nodes as
 * in arm64.md §8, following QEMU virt and Firecracker): CPUs with the PSCI enable method, memory,
 * the GICv3, the generic timer's PPIs, PL011 UARTs with their clock, PSCI, and /chosen.
 */
import { PL011_BYTES } from '../devices/pl011/registers';
import { buildFdt, fdtProp, type FdtNode, type FdtProperty } from './fdt';

export interface Arm64FdtSpec {
  readonly memory: readonly { readonly base: number; readonly size: number }[];
  /** MPIDR_EL1 of each vCPU, by vCPU id (read from KVM after KVM_ARM_VCPU_INIT). */
  readonly mpidrs: readonly bigint[];
  /** The in-kernel GICv3's frames; absent: no interrupt controller (and no timer node) unless `gicNode` is given. */
  readonly gic?: Arm64GicV3Frames;
  /** The interrupt controller's node as its creator describes it (phandle ARM64_GIC_PHANDLE); wins over `gic`. */
  readonly gicNode?: FdtNode;
  /** A userspace GICv2's frames (instead of `gic`): the interrupt controller node is then a GICv2. */
  readonly gicV2?: { readonly distributor: number; readonly cpuInterface: number };
  /** Describe the generic timer (needs a GIC). */
  readonly timer: boolean;
  /** PL011 UARTs; `spi` absent: polled, no interrupts property. The first is the console (stdout-path). */
  readonly uarts: readonly { readonly base: number; readonly spi?: number }[];
  readonly bootargs?: string;
  readonly initrd?: { readonly start: number; readonly end: number };
}

/** A vGICv3's distributor and redistributor frames. */
export interface Arm64GicV3Frames {
  readonly distributor: number;
  readonly distributorBytes: number;
  readonly redistributors: number;
  readonly redistributorBytes: number;
}

/** The interrupt controller's phandle: every interrupt-parent points here. */
export const ARM64_GIC_PHANDLE = 1;
const GIC_PHANDLE = ARM64_GIC_PHANDLE;
/** GICv2 frame sizes (distributor 4 KiB; CPU interface 8 KiB: GICC_DIR is at 0x1000). */
const GICV2_DISTRIBUTOR_BYTES = 0x1000;
const GICV2_CPU_INTERFACE_BYTES = 0x2000;
const CLOCK_PHANDLE = 2;
/** Interrupt specifier cells (arm,gic-v3 binding): type, number, flags. */
export const ARM64_FDT_IRQ = { SPI: 0, PPI: 1, LEVEL_HIGH: 4 } as const;
const Irq = ARM64_FDT_IRQ;
/** Generic timer PPIs in the binding's order — secure phys 29, non-secure phys 30, virtual 27, hypervisor 26 — as INTID − 16. */
const TIMER_PPIS = [13, 14, 11, 10];
/** The GICv3 maintenance interrupt (PPI 9, INTID 25). */
export const ARM64_GIC_MAINTENANCE_PPI = 9;
const GIC_MAINTENANCE_PPI = ARM64_GIC_MAINTENANCE_PPI;
const PL011_CLOCK_HZ = 24_000_000;
/** MPIDR_EL1 affinity fields Aff3, Aff2, Aff1, Aff0 (the cpu node's reg): drops RES1 bit 31, U and MT. */
const MPIDR_AFFINITY = 0xff_00ff_ffffn;

const hex = (n: number | bigint): string => n.toString(16);

function cpusNode(mpidrs: readonly bigint[]): FdtNode {
  const affinities = mpidrs.map((m) => m & MPIDR_AFFINITY);
  const twoCells = affinities.some((a) => a > 0xffff_ffffn);
  return {
    name: 'cpus',
    properties: [fdtProp.u32('#address-cells', twoCells ? 2 : 1), fdtProp.u32('#size-cells', 0)],
    children: affinities.map((a) => ({
      name: `cpu@${hex(a)}`,
      properties: [
        fdtProp.string('device_type', 'cpu'),
        fdtProp.string('compatible', 'arm,arm-v8'),
        fdtProp.string('enable-method', 'psci'),
        twoCells ? fdtProp.u64('reg', a) : fdtProp.u32('reg', Number(a)),
      ],
    })),
  };
}

function chosenNode(spec: Arm64FdtSpec): FdtNode {
  const properties: FdtProperty[] = [];
  if (spec.bootargs !== undefined) properties.push(fdtProp.string('bootargs', spec.bootargs));
  if (spec.uarts.length > 0) properties.push(fdtProp.string('stdout-path', `/pl011@${hex(spec.uarts[0].base)}`));
  if (spec.initrd) properties.push(fdtProp.u64('linux,initrd-start', spec.initrd.start), fdtProp.u64('linux,initrd-end', spec.initrd.end));
  return { name: 'chosen', properties };
}

/**
 * An interrupt controller node at `distributor` with the given `reg` cells: #address-cells,
 * #size-cells and ranges as QEMU virt and Firecracker have them (room for an ITS child; dtc wants
 * #address-cells on interrupt providers); the maintenance PPI where the GIC has one.
 */
function gicNode(compatible: string, distributor: number, reg: readonly number[], maintenance: boolean, children: readonly FdtNode[] = []): FdtNode {
  return {
    name: `intc@${hex(distributor)}`,
    properties: [
      fdtProp.string('compatible', compatible),
      fdtProp.u32('#interrupt-cells', 3),
      fdtProp.u32('#address-cells', 2),
      fdtProp.u32('#size-cells', 2),
      fdtProp.empty('ranges'),
      fdtProp.empty('interrupt-controller'),
      fdtProp.u64('reg', ...reg),
      ...(maintenance ? [fdtProp.u32('interrupts', Irq.PPI, GIC_MAINTENANCE_PPI, Irq.LEVEL_HIGH)] : []),
      fdtProp.u32('phandle', GIC_PHANDLE),
    ],
    ...(children.length ? { children: [...children] } : {}),
  };
}

/** A vGICv3's node (arm,gic-v3 binding), `extra` children (an ITS) below it. */
export function gicV3FdtNode(frames: Arm64GicV3Frames, extra: readonly FdtNode[] = []): FdtNode {
  return gicNode('arm,gic-v3', frames.distributor, [frames.distributor, frames.distributorBytes, frames.redistributors, frames.redistributorBytes], true, extra);
}

/** A userspace GICv2 (arm,gic binding): the PL390/GIC-400-compatible name Linux's irq-gic matches first; no maintenance interrupt. */
function gicV2Node(frames: { readonly distributor: number; readonly cpuInterface: number }): FdtNode {
  return gicNode('arm,cortex-a15-gic', frames.distributor, [frames.distributor, GICV2_DISTRIBUTOR_BYTES, frames.cpuInterface, GICV2_CPU_INTERFACE_BYTES], false);
}

/** The DTB for `spec`. */
export function arm64MachineFdt(spec: Arm64FdtSpec): Uint8Array {
  const gic = spec.gic;
  const hasGic = spec.gicNode !== undefined || gic !== undefined || spec.gicV2 !== undefined;
  const children: FdtNode[] = [chosenNode(spec)];
  for (const m of spec.memory) {
    children.push({ name: `memory@${hex(m.base)}`, properties: [fdtProp.string('device_type', 'memory'), fdtProp.u64('reg', m.base, m.size)] });
  }
  children.push(cpusNode(spec.mpidrs));
  children.push({ name: 'psci', properties: [fdtProp.string('compatible', 'arm,psci-0.2'), fdtProp.string('method', 'hvc')] });
  const gicNode = spec.gicNode ?? (gic ? gicV3FdtNode(gic) : undefined);
  if (gicNode) children.push(gicNode);
  if (spec.gicV2) children.push(gicV2Node(spec.gicV2));
  if (spec.timer) {
    children.push({
      name: 'timer',
      properties: [
        fdtProp.string('compatible', 'arm,armv8-timer'),
        fdtProp.empty('always-on'),
        fdtProp.u32('interrupts', ...TIMER_PPIS.flatMap((ppi) => [Irq.PPI, ppi, Irq.LEVEL_HIGH])),
      ],
    });
  }
  if (spec.uarts.length > 0) {
    children.push({
      name: 'apb-pclk',
      properties: [
        fdtProp.string('compatible', 'fixed-clock'),
        fdtProp.u32('#clock-cells', 0),
        fdtProp.u32('clock-frequency', PL011_CLOCK_HZ),
        fdtProp.string('clock-output-names', 'clk24mhz'),
        fdtProp.u32('phandle', CLOCK_PHANDLE),
      ],
    });
  }
  for (const u of spec.uarts) {
    children.push({
      name: `pl011@${hex(u.base)}`,
      properties: [
        fdtProp.strings('compatible', 'arm,pl011', 'arm,primecell'),
        fdtProp.u64('reg', u.base, PL011_BYTES),
        ...(hasGic && u.spi !== undefined ? [fdtProp.u32('interrupts', Irq.SPI, u.spi, Irq.LEVEL_HIGH)] : []),
        fdtProp.u32('clocks', CLOCK_PHANDLE, CLOCK_PHANDLE),
        fdtProp.strings('clock-names', 'uartclk', 'apb_pclk'),
      ],
    });
  }
  const rootProperties = [
    fdtProp.string('compatible', 'linux,dummy-virt'),
    fdtProp.u32('#address-cells', 2),
    fdtProp.u32('#size-cells', 2),
    ...(hasGic ? [fdtProp.u32('interrupt-parent', GIC_PHANDLE)] : []),
  ];
  return buildFdt({ name: '', properties: rootProperties, children });
}

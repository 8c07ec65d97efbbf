import { ConfigError, GsiRoutingTable, type GsiRoute, type KvmVM, type MsiMessage } from '@kvmts/core';
import { X86Irqchip } from '../abi/constants';

/** IOAPIC pins of KVM's in-kernel IOAPIC (IOAPIC_NUM_PINS). */
export const X86_IOAPIC_PINS = 24;
/** ISA interrupts wired to the two 8259s as well as the IOAPIC. */
export const X86_PIC_LINES = 16;

/**
 * The routes KVM_CREATE_IRQCHIP installs (the kernel's default_routing): GSI n is IOAPIC pin n
 * for n < 24, and for n < 16 also pin n % 8 of the master (n < 8) or slave 8259. Raising GSI 4
 * thus reaches both the PIC's IRQ 4 and IOAPIC pin 4; the guest decides which one it unmasks.
 * KVM_SET_GSI_ROUTING replaces the whole table, so any table kvmts writes starts with these.
 */
export const X86_DEFAULT_GSI_ROUTES: readonly GsiRoute[] = Array.from({ length: X86_IOAPIC_PINS }, (_, gsi) => {
  const ioapic: GsiRoute = { kind: 'irqchip', gsi, irqchip: X86Irqchip.IOAPIC, pin: gsi };
  if (gsi >= X86_PIC_LINES) return [ioapic];
  const pic: GsiRoute = { kind: 'irqchip', gsi, irqchip: gsi < 8 ? X86Irqchip.PIC_MASTER : X86Irqchip.PIC_SLAVE, pin: gsi % 8 };
  return [ioapic, pic];
}).flat();

/**
 * How ISA interrupts reach the IOAPIC (archOptions.gsiRouting):
 * - 'kvm': KVM_CREATE_IRQCHIP's routes as they are (X86_DEFAULT_GSI_ROUTES): GSI 0, where
 *   KVM's PIT raises its ticks, is IOAPIC pin 0.
 * - 'pc': a PC's wiring, as QEMU and kvmtool route it (X86_PC_GSI_ROUTES): GSI 0 reaches PIC
 *   pin 0 and IOAPIC **pin 2**, GSI 2 (the 8259 cascade) is not routed. What Linux, SeaBIOS and
 *   buildMpTable's 'pc' routing say of a PC (ISA IRQ 0 on pin 2).
 */
export type X86GsiRoutingKind = 'kvm' | 'pc';
export const X86_GSI_ROUTING_KINDS: readonly X86GsiRoutingKind[] = ['kvm', 'pc'];

/** The 'pc' routes: the defaults with GSI 0's IOAPIC route on pin 2 and GSI 2 dropped. */
export const X86_PC_GSI_ROUTES: readonly GsiRoute[] = X86_DEFAULT_GSI_ROUTES.filter((r) => r.gsi !== 2).map((r) =>
  r.gsi === 0 && r.kind === 'irqchip' && r.irqchip === X86Irqchip.IOAPIC ? { ...r, pin: 2 } : r,
);

/** VMs whose in-kernel irqchip configureVm created, and their one routing table once asked for. */
const kernelIrqchipVms = new WeakSet<KvmVM>();
const tables = new WeakMap<KvmVM, GsiRoutingTable>();

/**
 * configureVm: `vm` has KVM's irqchip (and so KVM's default routes). With 'pc' routing the
 * VM's table starts from X86_PC_GSI_ROUTES and is written at once, before any vCPU runs.
 */
export function noteKernelIrqchip(vm: KvmVM, routing: X86GsiRoutingKind = 'kvm'): void {
  kernelIrqchipVms.add(vm);
  if (routing === 'pc') {
    const table = new GsiRoutingTable(vm, X86_PC_GSI_ROUTES);
    table.commit();
    tables.set(vm, table);
  }
}

/**
 * The routing table of an x86 VM with the in-kernel irqchip: the PIC/IOAPIC routes (KVM's or the
 * PC's, as archOptions.gsiRouting says), to
 * which devices (and the coming PCI host) add MSI routes; `commit()` writes it. One table per
 * VM — every caller gets the same one, since KVM_SET_GSI_ROUTING replaces the whole table and a
 * second table would drop the first one's routes. Main thread.
 */
export function x86GsiRouting(vm: KvmVM): GsiRoutingTable {
  if (!kernelIrqchipVms.has(vm)) throw new ConfigError('archOptions.irqchip', "GSI routing needs the in-kernel irqchip (irqchip: 'kernel')");
  let table = tables.get(vm);
  if (table === undefined) {
    table = new GsiRoutingTable(vm, X86_DEFAULT_GSI_ROUTES);
    tables.set(vm, table);
  }
  return table;
}

/** The VM's routing table if one was made (x86GsiRouting, or 'pc' routing), without making one. */
export function existingX86GsiRouting(vm: KvmVM): GsiRoutingTable | undefined {
  return tables.get(vm);
}

/** The routes a VM starts with under `routing` (KVM_CREATE_IRQCHIP's, or the PC's). */
export function x86DefaultGsiRoutes(routing: X86GsiRoutingKind): readonly GsiRoute[] {
  return routing === 'pc' ? X86_PC_GSI_ROUTES : X86_DEFAULT_GSI_ROUTES;
}

/** The x86 MSI window: a write here is an interrupt message to the LAPICs. */
export const X86_MSI_ADDRESS_BASE = 0xfee00000;

/** The fields of an x86 MSI that kvmts builds: fixed delivery, edge, physical destination. */
export interface X86MsiTarget {
  /** Destination APIC id (0–255; equals the vCPU id under kvmts' CPUID normalisation). */
  readonly apicId: number;
  /** Interrupt vector, 16–255 (0–15 are reserved for exceptions). */
  readonly vector: number;
}

/** Address bits 19:12 carry the destination APIC id, data bits 7:0 the vector (fixed, edge). */
export function x86Msi(target: X86MsiTarget): MsiMessage {
  const { apicId, vector } = target;
  if (!Number.isInteger(apicId) || apicId < 0 || apicId > 0xff) throw new ConfigError('msi.apicId', `must be an integer 0..255, got ${String(apicId)}`);
  if (!Number.isInteger(vector) || vector < 16 || vector > 0xff) throw new ConfigError('msi.vector', `must be an integer 16..255, got ${String(vector)}`);
  return { address: X86_MSI_ADDRESS_BASE + apicId * 0x1000, data: vector };
}

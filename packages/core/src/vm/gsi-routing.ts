/**
 * The GSI routing table (KVM_SET_GSI_ROUTING): which in-kernel controller pins or MSI messages a
 * global system interrupt number stands for. KVM_IRQ_LINE and irqfd name a GSI; this table says
 * what raising it does. KVM_SET_GSI_ROUTING replaces the whole table, so a table is always
 * written complete: the arch's default routes (x86: the PIC and IOAPIC pins KVM_CREATE_IRQCHIP
 * installs) plus the MSI routes devices add.
 */
import {
  KVM_IRQ_ROUTING_IRQCHIP,
  KVM_IRQ_ROUTING_MSI,
  KVM_MSI_VALID_DEVID,
  KvmIrqRoutingEntryLayout as E,
  KvmIrqRoutingLayout as T,
} from '../abi/irq-routing';
import { KvmIoctl } from '../abi/ioctls';
import { KvmCap } from '../abi/capabilities';
import { ConfigError } from '../errors/errors';
import { kvmIoctl } from '../kvm/ioctl';
import type { KvmVM } from './kvm-vm';
import { checkMsiMessage, type MsiMessage } from './msi';

/** A GSI wired to pin `pin` of in-kernel interrupt controller `irqchip` (arch numbering: x86 KVM_IRQCHIP_*). */
export interface IrqchipRoute {
  readonly kind: 'irqchip';
  readonly gsi: number;
  readonly irqchip: number;
  readonly pin: number;
}

/** A GSI that, when raised, sends an MSI. */
export interface MsiRoute {
  readonly kind: 'msi';
  readonly gsi: number;
  readonly msi: MsiMessage;
}

export type GsiRoute = IrqchipRoute | MsiRoute;

const ENTRY = E.fields;

function checkU32(value: number, setting: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new ConfigError(setting, `must be an unsigned 32-bit integer, got ${String(value)}`);
  return value;
}

/** The table as KVM reads it. A bad entry is a ConfigError naming `gsiRouting[i]` and the field. */
export function encodeGsiRouting(routes: readonly GsiRoute[]): Uint8Array {
  const bytes = new Uint8Array(T.size + routes.length * E.size);
  const v = new DataView(bytes.buffer);
  v.setUint32(T.fields.nr.offset, routes.length, true);
  v.setUint32(T.fields.flags.offset, 0, true);
  routes.forEach((route, i) => {
    const at = T.fields.entries.offset + i * E.size;
    const where = `gsiRouting[${i}]`;
    v.setUint32(at + ENTRY.gsi.offset, checkU32(route.gsi, `${where}.gsi`), true);
    switch (route.kind) {
      case 'irqchip':
        v.setUint32(at + ENTRY.type.offset, KVM_IRQ_ROUTING_IRQCHIP, true);
        v.setUint32(at + ENTRY['u.irqchip.irqchip'].offset, checkU32(route.irqchip, `${where}.irqchip`), true);
        v.setUint32(at + ENTRY['u.irqchip.pin'].offset, checkU32(route.pin, `${where}.pin`), true);
        break;
      case 'msi': {
        const m = checkMsiMessage(route.msi, `${where}.msi`);
        v.setUint32(at + ENTRY.type.offset, KVM_IRQ_ROUTING_MSI, true);
        v.setUint32(at + ENTRY.flags.offset, m.devid !== undefined ? KVM_MSI_VALID_DEVID : 0, true);
        v.setUint32(at + ENTRY['u.msi.address_lo'].offset, m.addressLo, true);
        v.setUint32(at + ENTRY['u.msi.address_hi'].offset, m.addressHi, true);
        v.setUint32(at + ENTRY['u.msi.data'].offset, m.data, true);
        v.setUint32(at + ENTRY['u.msi.devid'].offset, m.devid ?? 0, true);
        break;
      }
      default:
        throw new ConfigError(`${where}.kind`, `must be 'irqchip' or 'msi', got ${JSON.stringify((route as { kind: unknown }).kind)}`);
    }
  });
  return bytes;
}

/** The inverse of encodeGsiRouting (for tests and dumps). */
export function decodeGsiRouting(bytes: Uint8Array): GsiRoute[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nr = v.getUint32(T.fields.nr.offset, true);
  if (bytes.byteLength < T.size + nr * E.size) throw new ConfigError('gsiRouting', `${bytes.byteLength} bytes cannot hold ${nr} entries`);
  const out: GsiRoute[] = [];
  for (let i = 0; i < nr; i++) {
    const at = T.fields.entries.offset + i * E.size;
    const gsi = v.getUint32(at + ENTRY.gsi.offset, true);
    const type = v.getUint32(at + ENTRY.type.offset, true);
    if (type === KVM_IRQ_ROUTING_IRQCHIP) {
      out.push({ kind: 'irqchip', gsi, irqchip: v.getUint32(at + ENTRY['u.irqchip.irqchip'].offset, true), pin: v.getUint32(at + ENTRY['u.irqchip.pin'].offset, true) });
    } else if (type === KVM_IRQ_ROUTING_MSI) {
      const address = (BigInt(v.getUint32(at + ENTRY['u.msi.address_hi'].offset, true)) << 32n) | BigInt(v.getUint32(at + ENTRY['u.msi.address_lo'].offset, true));
      const data = v.getUint32(at + ENTRY['u.msi.data'].offset, true);
      const hasDevid = (v.getUint32(at + ENTRY.flags.offset, true) & KVM_MSI_VALID_DEVID) !== 0;
      out.push({ kind: 'msi', gsi, msi: hasDevid ? { address, data, devid: v.getUint32(at + ENTRY['u.msi.devid'].offset, true) } : { address, data } });
    } else {
      throw new ConfigError(`gsiRouting[${i}].type`, `routing type ${type} is not one kvmts decodes (irqchip ${KVM_IRQ_ROUTING_IRQCHIP}, msi ${KVM_IRQ_ROUTING_MSI})`);
    }
  }
  return out;
}

/** The routes last committed per VM (KVM_SET_GSI_ROUTING through a GsiRoutingTable). */
const committedTables = new WeakMap<KvmVM, readonly GsiRoute[]>();

/**
 * The GSI routes a GsiRoutingTable last wrote into `vm`, or undefined while the VM has the
 * kernel's default routing. For code that maps GSIs to interrupts itself (the muxing GIC maps
 * an irqfd's GSI to SPI GSI + 32, which only the default routing promises).
 */
export function committedGsiRouting(vm: KvmVM): readonly GsiRoute[] | undefined {
  return committedTables.get(vm);
}

/**
 * A VM's routing table, kept in userspace and written whole. Starts from the arch's default
 * routes (which KVM installed with the irqchip); MSI routes are added on free GSIs above them.
 * Changes take effect at `commit()`. Main thread (it owns the table); raising a routed GSI
 * (irqfd, KVM_IRQ_LINE) works from any thread.
 */
export class GsiRoutingTable {
  private readonly list: GsiRoute[];
  /** GSIs this KVM routes (KVM_CAP_IRQ_ROUTING answers the table size). */
  readonly gsiLimit: number;

  constructor(private readonly vm: KvmVM, defaults: readonly GsiRoute[]) {
    this.gsiLimit = vm.checkExtension(KvmCap.IRQ_ROUTING);
    if (this.gsiLimit <= 0) throw new ConfigError('gsiRouting', 'this KVM lacks KVM_CAP_IRQ_ROUTING');
    this.list = [...defaults];
  }

  get routes(): readonly GsiRoute[] {
    return this.list;
  }

  /** Route a free GSI (the lowest above every GSI in use) to `msi`; returns the GSI. Commit to apply. */
  addMsiRoute(msi: MsiMessage): number {
    checkMsiMessage(msi, 'gsiRouting.msi');
    const gsi = this.list.reduce((max, r) => Math.max(max, r.gsi), -1) + 1;
    if (gsi >= this.gsiLimit) throw new ConfigError('gsiRouting', `no free GSI: this KVM routes ${this.gsiLimit} (KVM_CAP_IRQ_ROUTING)`);
    this.list.push({ kind: 'msi', gsi, msi });
    return gsi;
  }

  /** Point an MSI route at a new message (a guest reprogrammed the device's MSI registers). */
  setMsiRoute(gsi: number, msi: MsiMessage): void {
    checkMsiMessage(msi, `gsiRouting[gsi ${gsi}].msi`);
    const i = this.list.findIndex((r) => r.gsi === gsi && r.kind === 'msi');
    if (i < 0) throw new ConfigError('gsiRouting', `GSI ${gsi} is not an MSI route`);
    this.list[i] = { kind: 'msi', gsi, msi };
  }

  /** Drop every route of `gsi`. */
  removeRoutes(gsi: number): void {
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i].gsi === gsi) this.list.splice(i, 1);
  }

  /**
   * Replace every route (a checkpoint's table, or the defaults again); each is checked as
   * encodeGsiRouting checks it, before the table changes. Commit to apply.
   */
  replaceRoutes(routes: readonly GsiRoute[]): void {
    encodeGsiRouting(routes);
    const over = routes.find((r) => r.gsi >= this.gsiLimit);
    if (over) throw new ConfigError('gsiRouting', `GSI ${over.gsi} is beyond the ${this.gsiLimit} this KVM routes (KVM_CAP_IRQ_ROUTING)`);
    this.list.splice(0, this.list.length, ...routes.map((r) => ({ ...r })));
  }

  /** KVM_SET_GSI_ROUTING with the whole table. */
  commit(): void {
    kvmIoctl(this.vm.fd, KvmIoctl.SET_GSI_ROUTING, `KVM_SET_GSI_ROUTING(${this.list.length} routes)`, encodeGsiRouting(this.list));
    committedTables.set(this.vm, this.list.map((r) => ({ ...r })));
  }
}

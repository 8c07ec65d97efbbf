/**
 * The machine's address map checked whole on the main thread, before the kernel or any vCPU
 * thread is involved: every device range against every other in its address space, and every
 * MMIO device range against guest memory — a device over RAM would never see an access (KVM
 * serves RAM itself), a silent overlap the buses of the vCPU threads cannot see. Each collision is
 * a ConfigError naming both ranges (NamedRangeSet).
 */
import type { DependencyContainer } from 'tsyringe';
import { MMIO_SPACE, type AddressSpace } from '../bus/address-bus';
import { NamedRangeSet } from '../layout/named-range-set';
import type { MemoryRegionOptions } from '../vm/memory-region';
import { findDevicePlugin } from './plugin-registry';
import type { MachineDevice } from './devices';

export function checkMachineAddressMap(container: DependencyContainer, regions: readonly MemoryRegionOptions[], devices: readonly MachineDevice[], spaces: readonly AddressSpace[]): void {
  const maps = new Map<string, NamedRangeSet>();
  for (const space of [MMIO_SPACE, ...spaces]) if (!maps.has(space.name)) maps.set(space.name, new NamedRangeSet(`the ${space.name} address space`, space.limit));
  const mmio = maps.get(MMIO_SPACE.name)!;
  regions.forEach((r, i) => {
    // Host-side backing store (inAddrMap false) has no guest address; malformed regions are the VM's to name.
    if (r.inAddrMap === false || !Number.isSafeInteger(r.guestPhysAddr) || !Number.isSafeInteger(r.size) || r.size <= 0) return;
    mmio.add({ name: `memory region '${r.name}'`, base: r.guestPhysAddr, size: r.size }, `memory[${i}]`);
  });
  devices.forEach((d, i) => {
    const placement = findDevicePlugin(container, d.spec.type).placement(d.spec.options);
    for (const [space, ranges] of Object.entries(placement)) {
      ranges?.forEach((r) => maps.get(space)?.add({ name: `device '${d.name}'`, base: r.base, size: r.size }, `devices[${i}]`));
    }
  });
}

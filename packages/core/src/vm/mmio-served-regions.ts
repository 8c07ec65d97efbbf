import * as native from '@kvmts/native';
import type { AddressBus } from '../bus/address-bus';
import { MemoryBackedDevice } from '../bus/memory-device';
import type { MemoryRegion } from './memory-region';

const FOUR_GIB = 2 ** 32;

/** Put every in-address-map region that is not a KVM slot on `bus`, served from its host memory. */
export function attachMmioServedRegions(bus: AddressBus, regions: readonly MemoryRegion[]): void {
  for (const r of regions) {
    if (r.kvmMap || !r.inAddrMap) continue;
    const mapping = native.mappingById(r.mappingId);
    for (let off = 0; off < r.size; off += FOUR_GIB) {
      const len = Math.min(FOUR_GIB, r.size - off);
      bus.attach({ base: r.guestPhysAddr + off, size: len }, new MemoryBackedDevice(`memory:${r.name}`, mapping.view(off, len), r.readOnly));
    }
  }
}

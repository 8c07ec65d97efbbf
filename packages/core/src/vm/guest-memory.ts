import * as native from '@kvmts/native';
import type { MemoryRegion } from './memory-region';
import { ConfigError, LifecycleError } from '../errors/errors';

const FOUR_GIB = 2 ** 32;

/**
 * Byte access to guest-physical memory from the host, usable in any thread: it is built from
 * region descriptors (plain data) and the process-wide native mapping registry. Views are
 * non-owning; the VM unmaps memory only after every vCPU thread has stopped.
 */
export class GuestMemory {
  private readonly chunks: { gpa: number; end: number; bytes: Uint8Array }[] = [];

  constructor(regions: readonly MemoryRegion[]) {
    for (const r of regions) {
      if (!r.inAddrMap) continue;
      const mapping = native.mappingById(r.mappingId);
      for (let off = 0; off < r.size; off += FOUR_GIB) {
        const len = Math.min(FOUR_GIB, r.size - off);
        this.chunks.push({ gpa: r.guestPhysAddr + off, end: r.guestPhysAddr + off + len, bytes: new Uint8Array(mapping.view(off, len)) });
      }
    }
    this.chunks.sort((a, b) => a.gpa - b.gpa);
  }

  /** The RAM ranges, ascending (a region past 4 GiB is split into 4 GiB pieces): what a CPU switch copies (cpu/switching.ts). */
  get ranges(): { gpa: number; size: number }[] {
    return this.chunks.map((c) => ({ gpa: c.gpa, size: c.end - c.gpa }));
  }

  /** A Uint8Array aliasing guest memory [gpa, gpa + length); the range must lie in one region chunk. */
  bytes(gpa: number, length: number): Uint8Array {
    for (const c of this.chunks) {
      if (gpa >= c.gpa && gpa + length <= c.end) {
        // The VM's close() unmapped the memory and detached this thread's views: a typed error, not a TypeError.
        if (c.bytes.byteLength === 0) throw new LifecycleError('guest memory', 'unmapped (its VM is closed)', 'access it');
        return c.bytes.subarray(gpa - c.gpa, gpa - c.gpa + length);
      }
    }
    throw new ConfigError('guestMemory', `no RAM region holds 0x${gpa.toString(16)}..0x${(gpa + length - 1).toString(16)}`);
  }

  write(gpa: number, data: Uint8Array): void {
    this.bytes(gpa, data.length).set(data);
  }

  read(gpa: number, length: number): Uint8Array {
    return Uint8Array.from(this.bytes(gpa, length));
  }

  /** DataView over [gpa, gpa + length) for little-endian field access. */
  view(gpa: number, length: number): DataView {
    const b = this.bytes(gpa, length);
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
}

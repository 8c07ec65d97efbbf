import type { AccessSize, Device, HighWord } from './device';

/**
 * Serves a memory region that is not a KVM slot (kvmMap = false) over the MMIO bus: every guest
 * access exits and is answered from the region's host memory. Slow by design — it is how a
 * simulator observes or intercepts every access to a piece of memory.
 */
export class MemoryBackedDevice implements Device {
  private readonly view: DataView;

  constructor(readonly name: string, memory: ArrayBuffer, private readonly readOnly: boolean) {
    this.view = new DataView(memory);
  }

  read(offset: number, size: AccessSize, out: HighWord): number {
    const v = this.view;
    switch (size) {
      case 1:
        return v.getUint8(offset);
      case 2:
        return v.getUint16(offset, true);
      case 4:
        return v.getUint32(offset, true);
      case 8:
        out.high = v.getUint32(offset + 4, true);
        return v.getUint32(offset, true);
    }
  }

  write(offset: number, size: AccessSize, value: number, valueHigh: number): void {
    if (this.readOnly) return;
    const v = this.view;
    switch (size) {
      case 1:
        v.setUint8(offset, value);
        return;
      case 2:
        v.setUint16(offset, value, true);
        return;
      case 4:
        v.setUint32(offset, value, true);
        return;
      case 8:
        v.setUint32(offset, value, true);
        v.setUint32(offset + 4, valueHigh, true);
    }
  }
}

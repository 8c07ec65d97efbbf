import * as native from '@kvmts/native';
import { nativeCall } from '../kvm/ioctl';

/**
 * The raw handles of one vCPU: its fd and the mapping of its kvm_run area (kvm_run page, the
 * x86 PIO data page, the coalesced-MMIO ring page). Plain data can be sent to a worker thread
 * (`describe()`), which re-attaches to the same mapping by id.
 */
export interface VcpuHandles {
  readonly id: number;
  readonly fd: number;
  readonly runMappingId: number;
  readonly runSize: number;
  /** Page index of the coalesced ring inside the run mapping; 0 when unsupported. */
  readonly coalescedRingPage: number;
}

export class VcpuFd implements VcpuHandles {
  private closed = false;

  private constructor(
    readonly id: number,
    readonly fd: number,
    private readonly mapping: native.Mapping,
    readonly coalescedRingPage: number,
  ) {}

  static map(id: number, fd: number, runSize: number, coalescedRingPage: number): VcpuFd {
    const c = native.constants;
    const mapping = nativeCall(`mmap(vCPU ${id} kvm_run)`, () => native.mmap(runSize, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED, fd, 0));
    return new VcpuFd(id, fd, mapping, coalescedRingPage);
  }

  get runMappingId(): number {
    return this.mapping.id;
  }

  get runSize(): number {
    return this.mapping.length;
  }

  describe(): VcpuHandles {
    return { id: this.id, fd: this.fd, runMappingId: this.runMappingId, runSize: this.runSize, coalescedRingPage: this.coalescedRingPage };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mapping.unmap();
    native.close(this.fd);
  }
}

import * as native from '@kvmts/native';
import { nativeCall } from './ioctl';

/**
 * A page of native memory whose host address is known, for ioctl structs that carry user
 * pointers (kvm_one_reg.addr, kvm_device_attr.addr, kvm_msrs…). JS ArrayBuffers have no
 * stable, queryable address; a native mapping does. Released by free().
 */
export class ScratchBuffer {
  private readonly mapping: native.Mapping;
  readonly address: bigint;
  readonly bytes: Uint8Array;
  readonly view: DataView;

  constructor(size = 4096) {
    const c = native.constants;
    this.mapping = nativeCall(`mmap(scratch, ${size} bytes)`, () => native.mmap(size, c.PROT_READ | c.PROT_WRITE, c.MAP_PRIVATE | c.MAP_ANONYMOUS));
    this.address = this.mapping.address;
    const ab = this.mapping.view(0, size);
    this.bytes = new Uint8Array(ab);
    this.view = new DataView(ab);
  }

  free(): void {
    this.mapping.unmap();
  }
}

/**
 * Where guest RAM is mapped (vm/default-kvm-vm.ts): 2 MiB-aligned whenever the region spans a
 * 2 MiB block (KVM's block mappings need host and guest addresses to agree modulo 2 MiB), huge
 * pages as asked. Golden values; the mapping itself is tested against /proc in
 * packages/native/test/mmap-placement.test.ts.
 */
import { guestRamPlacement } from '../src/vm/default-kvm-vm';

const MiB = 1024 * 1024;

describe('guest RAM placement', () => {
  it('aligns regions of 2 MiB or more to 2 MiB, smaller ones not at all', () => {
    expect([4096, 2 * MiB - 4096, 2 * MiB, 256 * MiB, 8 * 1024 * MiB].map((size) => guestRamPlacement(size, true).align)).toEqual([0, 0, 2 * MiB, 2 * MiB, 2 * MiB]);
  });

  it('passes the huge-page wish through unchanged', () => {
    expect(guestRamPlacement(256 * MiB, true)).toEqual({ align: 2 * MiB, hugePages: true });
    expect(guestRamPlacement(256 * MiB, false)).toEqual({ align: 2 * MiB, hugePages: false });
  });
});

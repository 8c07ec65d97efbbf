/**
 * File-backed memory regions (MemoryRegionOptions.backing), what a checkpoint restore maps its
 * memory image with: KVM takes a MAP_PRIVATE file mapping as a memslot, the region shows the
 * file's bytes, writes stay private, and a backing that cannot work is a ConfigError before
 * anything is mapped.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as native from '@kvmts/native';
import { ConfigError, DefaultKvmVM, Kvm } from '@kvmts/core';

describeKvm('file-backed memory regions', () => {
  let kvm: Kvm;
  let work: string;
  let fd: number;
  beforeEach(() => {
    kvm = Kvm.open();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-backing-'));
    const file = path.join(work, 'image');
    const content = Buffer.alloc(3 * 4096);
    content.fill(0x5a, 4096, 8192); // page 1
    fs.writeFileSync(file, content);
    fd = fs.openSync(file, 'r');
  });
  afterEach(() => {
    fs.closeSync(fd);
    fs.rmSync(work, { recursive: true, force: true });
    kvm.close();
  });

  it('maps the file copy-on-write as a KVM slot: the region reads the file, writes never reach it', () => {
    const vm = new DefaultKvmVM(kvm);
    try {
      const region = vm.addMemoryRegion({ name: 'ram', guestPhysAddr: 0, size: 2 * 4096, backing: { fd, offset: 4096 } });
      expect(region.slot).toBe(0);
      const memory = vm.memory();
      expect(memory.read(0, 4096).every((b) => b === 0x5a)).toBe(true);
      expect(memory.read(4096, 4096).every((b) => b === 0)).toBe(true);
      memory.write(0, Uint8Array.of(1, 2, 3));
      expect(memory.read(0, 3)).toEqual(Uint8Array.of(1, 2, 3));
      expect(fs.readFileSync(path.join(work, 'image'))[4096]).toBe(0x5a);
    } finally {
      vm.close();
    }
  });

  it('refuses a file too short for the region, or a misaligned offset, naming the setting, and maps nothing', () => {
    const vm = new DefaultKvmVM(kvm);
    const mappings = native.liveMappingCount();
    try {
      expect(() => vm.addMemoryRegion({ name: 'ram', guestPhysAddr: 0, size: 4 * 4096, backing: { fd, offset: 0 } })).toThrow(
        new ConfigError('memory[ram].backing', 'the file is 12288 bytes, the region needs 16384 (offset 0 + size 16384)'),
      );
      expect(() => vm.addMemoryRegion({ name: 'ram', guestPhysAddr: 0, size: 4096, backing: { fd, offset: 100 } })).toThrow(ConfigError);
      expect(() => vm.addMemoryRegion({ name: 'ram', guestPhysAddr: 0, size: 4096, backing: { fd: 987654, offset: 0 } })).toThrow(/memory\[ram\]\.backing\.fd: fd 987654 is not an open file/);
      expect(native.liveMappingCount()).toBe(mappings);
      expect(vm.regions).toEqual([]);
    } finally {
      vm.close();
    }
  });
});

/**
 * The binary stats reader against real KVM stats fds (KVM_GET_STATS_FD on a VM and a vCPU).
 * Skips when /dev/kvm cannot be opened.
 */
import * as native from '@kvmts/native';
import { Kvm } from '../src/kvm/kvm';
import { kvmIoctl } from '../src/kvm/ioctl';
import { KvmCap, KvmIoctl, KvmStatsReader, KvmStatsType, readStats } from '../src/abi';


describeKvm('KVM_GET_STATS_FD read through KvmStatsReader (real /dev/kvm)', () => {
  let kvm: Kvm;
  const fds: number[] = [];
  const track = (fd: number): number => (fds.push(fd), fd);
  let vmFd: number;
  let vcpuFd: number;

  beforeAll(() => {
    kvm = Kvm.open();
    vmFd = track(kvm.createVmFd());
    vcpuFd = track(kvmIoctl(vmFd, KvmIoctl.CREATE_VCPU, 'KVM_CREATE_VCPU', 0));
  });
  afterAll(() => {
    for (const fd of fds.reverse()) native.close(fd);
    kvm?.close();
  });

  it('the kernel offers binary stats', () => {
    expect(kvm.checkExtension(KvmCap.BINARY_STATS_FD)).toBeGreaterThan(0);
  });

  it('reads the vCPU stats: id names vcpu-0 and the exits counter is present', () => {
    const statsFd = track(kvmIoctl(vcpuFd, KvmIoctl.GET_STATS_FD, 'KVM_GET_STATS_FD'));
    const r = new KvmStatsReader(statsFd);
    expect(r.id).toMatch(/vcpu-0$/);
    expect(r.descriptors.length).toBeGreaterThan(10);
    for (const d of r.descriptors) {
      expect(d.name).toMatch(/^[a-z0-9_]+$/);
      expect(d.type).toBeLessThanOrEqual(KvmStatsType.LOG_HIST);
      expect(d.size).toBeGreaterThan(0);
    }
    const all = r.read();
    expect(all.size).toBe(r.descriptors.length);
    expect(typeof all.get('exits')).toBe('bigint');
    expect(r.value('exits')).toBe(all.get('exits'));
  });

  it('reads the VM stats with the one-shot helper', () => {
    const statsFd = track(kvmIoctl(vmFd, KvmIoctl.GET_STATS_FD, 'KVM_GET_STATS_FD'));
    const m = readStats(statsFd);
    expect(m.size).toBeGreaterThan(0);
    for (const v of m.values()) expect(typeof v === 'bigint' || Array.isArray(v)).toBe(true);
  });
});

/**
 * Machines composed with createMachine: one worker thread per vCPU, devices instantiated in
 * each thread, power-off through the exit device, stop/kick from the main thread.
 */
import 'reflect-metadata';
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import * as native from '@kvmts/native';
import { closeIdleVcpuThreads, ConfigError, createMachine, GuestError, idleVcpuThreadCount, setVcpuThreadPoolSize, DEFAULT_VCPU_POOL_SIZE, type Machine } from '@kvmts/core';
import { assembleGuest, exitDevice, readExitDeviceState, uart8250, type GuestImage, type X86ThreadContextData } from '@kvmts/arch-x86';
import { spinMachine } from './support/spin-machine';
import { demoChecksumConfig } from './support/demo-machine';

let tests: GuestImage;
beforeAll(() => {
  tests = assembleGuest('long-mode-tests');
});

describeKvm('machines on real KVM', () => {
  it('boots the demo guest: UART output, power-off status 0, CRC equal to the host', async () => {
    const data = Uint8Array.from({ length: 65536 }, (_, i) => (i * 7 + 3) & 0xff);
    const out: number[] = [];
    const m = await createMachine(demoChecksumConfig(data), { console: (b) => out.push(...b) });
    try {
      const exit = await m.run();
      expect(exit).toEqual({ reason: 'poweroff', status: 0 });
      const crc = zlib.crc32(data) >>> 0;
      expect(Buffer.from(out).toString()).toBe(`kvmts demo guest: crc32(65536 bytes) = 0x${crc.toString(16).padStart(8, '0')}\n`);
      expect(readExitDeviceState(m.deviceState.get('exit')!)).toMatchObject({ exited: true, status: 0, hasResult: true, result: crc });
      expect(m.exitCounts()[0].IO).toBeGreaterThan(0);
    } finally {
      await m.close();
    }
  });

  it('runs two vCPUs at once, each in its own thread, and stops both with a kick', async () => {
    const m = await spinMachine(2);
    try {
      const run = m.run();
      // Both threads report themselves inside their run loops at the same time.
      const deadline = Date.now() + 5000;
      while (!m.vcpus.every((v) => v.loopActive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(m.vcpus.map((v) => v.loopActive)).toEqual([true, true]);
      await new Promise((r) => setTimeout(r, 100));
      expect(m.vcpus.map((v) => v.loopActive)).toEqual([true, true]);
      const t0 = Date.now();
      await m.stop();
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(await run).toEqual({ reason: 'stopped' });
      const spin = BigInt(tests.symbols.get('spin')!);
      for (const v of m.vcpus) {
        expect(v.lastStop).toEqual({ reason: 'stopped', status: undefined });
        const tc = await v.call<{ regs: { rip: bigint } }>('threadContext');
        expect(tc.regs.rip).toBe(spin);
      }
      // Distinct stacks per vCPU (stack - id * 0x800).
      const rsp = await Promise.all(m.vcpus.map((v) => v.call<{ regs: { rsp: bigint } }>('threadContext').then((t) => t.regs.rsp)));
      expect(rsp[0] - rsp[1]).toBe(0x800n);
    } finally {
      await m.close();
    }
  });

  it('stops and restarts a vCPU; kernel statistics come from KVM_GET_STATS_FD', async () => {
    const m = await spinMachine(1);
    try {
      const first = m.vcpus[0].start();
      await new Promise((r) => setTimeout(r, 50));
      await m.vcpus[0].stop(2000);
      expect(await first).toMatchObject({ reason: 'stopped' });
      const second = m.vcpus[0].start();
      await new Promise((r) => setTimeout(r, 50));
      await m.vcpus[0].stop(2000);
      expect(await second).toMatchObject({ reason: 'stopped' });
      const stats = await m.vcpus[0].call<Record<string, string>>('kernelStats');
      expect(Number(stats.exits)).toBeGreaterThan(0);
    } finally {
      await m.close();
    }
  });

  it('a guest error in a vCPU thread ends the run with a typed GuestError carrying a dump', async () => {
    const m = await createMachine({
      arch: 'x86_64',
      memory: '16M',
      boot: { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: tests.symbols.get('triple_fault')! },
    });
    try {
      const exit = await m.run();
      expect(exit.reason).toBe('error');
      const err = (exit as { error: unknown }).error as GuestError;
      expect(err).toBeInstanceOf(GuestError);
      expect(err.kind).toBe('triple-fault');
      expect(err.dump).toMatch(/rip: 0x/);
    } finally {
      await m.close();
    }
  });

  it('rejects bad configuration with ConfigError before creating anything', async () => {
    await expect(createMachine({ arch: 'mips', memory: '16M' })).rejects.toThrow(ConfigError);
    await expect(createMachine({ arch: 'x86_64', memory: 'lots' })).rejects.toThrow(/memory/);
    await expect(createMachine({ arch: 'x86_64', memory: '16M', cpus: 0 })).rejects.toThrow(/cpus/);
    await expect(createMachine({ arch: 'x86_64', memory: '16M', devices: [uart8250(), uart8250()] })).rejects.toThrow(/duplicate device name|overlaps/);
    await expect(createMachine({ arch: 'x86_64', memory: '16M', devices: [{ plugin: '@kvmts/arch-x86', type: 'floppy', options: {} }] })).rejects.toThrow(/no device plugin of type 'floppy'/);
    await expect(createMachine({ arch: 'x86_64', memory: '16M', boot: { kind: 'flat', mode: 'long', image: '/nonexistent/guest.bin' } })).rejects.toThrow(/boot.image/);
  });

  it('leaks no fds, mappings or threads over 10 machine create/run/close cycles', async () => {
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    // The JS heap and worker stacks change the raw map count, so count what kvmts maps:
    // kvm_run areas (file-backed by anon_inode:kvm-vcpu) and the native registry's mappings.
    const vcpuMaps = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('kvm-vcpu')).length;
    const cycle = async () => {
      const m = await createMachine({
        arch: 'x86_64',
        memory: '8M',
        devices: [exitDevice()],
        boot: { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: tests.symbols.get('sum_loop')!, registers: { rcx: 1000 } },
      });
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
      await m.close();
    };
    await cycle();
    await new Promise((r) => setTimeout(r, 100));
    const f0 = fds();
    const live0 = native.liveMappingCount();
    // Each machine reuses the vCPU thread the last one left (vcpu-worker-pool.ts)...
    for (let i = 0; i < 10; i++) await cycle();
    expect(fds()).toBe(f0);
    expect(vcpuMaps()).toBe(0);
    expect(native.liveMappingCount()).toBe(live0);
    expect(idleVcpuThreadCount()).toBe(1);
    // ...and with reuse off, each starts and ends its own: nothing stays behind either.
    setVcpuThreadPoolSize(0);
    try {
      expect(idleVcpuThreadCount()).toBe(0);
      await new Promise((r) => setTimeout(r, 100));
      const f1 = fds();
      for (let i = 0; i < 3; i++) await cycle();
      await new Promise((r) => setTimeout(r, 100));
      expect(fds()).toBe(f1);
      expect(idleVcpuThreadCount()).toBe(0);
    } finally {
      setVcpuThreadPoolSize(DEFAULT_VCPU_POOL_SIZE);
    }
  });

  it('a closed machine leaves its vCPU thread for the next machine, which runs on it; a failed run gives none back', async () => {
    await closeIdleVcpuThreads();
    const sumLoop = () =>
      createMachine({
        arch: 'x86_64',
        memory: '8M',
        devices: [exitDevice()],
        boot: { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: tests.symbols.get('sum_loop')!, registers: { rcx: 1000 } },
      });
    const first = await sumLoop();
    const thread = first.vcpus[0].threadId;
    expect(await first.run()).toEqual({ reason: 'poweroff', status: 0 });
    await first.close();
    expect(idleVcpuThreadCount()).toBe(1);

    const second = await sumLoop();
    expect(second.vcpus[0].threadId).toBe(thread);
    expect(idleVcpuThreadCount()).toBe(0);
    expect(await second.run()).toEqual({ reason: 'poweroff', status: 0 });
    // The reused thread ran this machine's guest: 1000 + 999 + … + 1.
    expect((await second.vcpus[0].call<X86ThreadContextData>('threadContext')).regs.rbx).toBe(500_500n);
    await second.close();

    // A run that ended in an error: its thread is not trusted with another machine.
    const failing = await createMachine({
      arch: 'x86_64',
      memory: '8M',
      boot: { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: tests.symbols.get('triple_fault')! },
    });
    expect(failing.vcpus[0].threadId).toBe(thread);
    expect((await failing.run()).reason).toBe('error');
    await failing.close();
    expect(idleVcpuThreadCount()).toBe(0);
  });
});

/**
 * The run loop on real KVM: an access KVM splits into two exits reaches the device whole even
 * when the run stops after every exit, and a guest switched mid-computation between CPUs of two
 * VMs in one process (drain → switchOut → takeOverFrom) finishes with the uninterrupted result.
 */
import * as zlib from 'node:zlib';
import type { AccessSize, HighWord, Device } from '@kvmts/core';
import { assembleGuest, exitDevice, uart8250, type GuestImage } from '@kvmts/arch-x86';
import { makeRig, type Rig } from './support/harness';

// Inside the 1 GiB the boot identity-maps (mapBytes), above RAM: no memory behind it.
const MMIO_BASE = 0x3000_0000;
const PATTERN_GPA = 0x20_0000;
const PATTERN = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const CR4_OSFXSR = 0x200n;

/** Remembers what was written at each offset and answers reads with it, logging 'W8@0' style. */
class MemoryLikeDevice implements Device {
  readonly name = 'mmio-memory';
  readonly log: string[] = [];
  private readonly cells = new Map<number, [number, number]>();
  read(offset: number, size: AccessSize, out: HighWord): number {
    this.log.push(`R${size}@${offset}`);
    const [lo, hi] = this.cells.get(offset) ?? [0, 0];
    out.high = hi;
    return lo;
  }
  write(offset: number, size: AccessSize, value: number, high: number): void {
    this.log.push(`W${size}@${offset}`);
    this.cells.set(offset, [value, high]);
  }
}

let tests: GuestImage;
let demo: GuestImage;
beforeAll(() => {
  tests = assembleGuest('long-mode-tests');
  demo = assembleGuest('demo-checksum');
});

describeKvm('the run loop on real KVM', () => {
  let rigs: Rig[] = [];
  afterEach(() => {
    for (const r of rigs) r.close();
    rigs = [];
  });

  function sseRig(): { rig: Rig; dev: MemoryLikeDevice } {
    const rig = makeRig(
      { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: tests.symbols.get('sse_mmio')!, registers: { rdi: MMIO_BASE, rsi: PATTERN_GPA }, data: [{ gpa: PATTERN_GPA, bytes: PATTERN }], mapBytes: 1 << 30 },
      { devices: [exitDevice()] },
    );
    rigs.push(rig);
    const cpu = rig.cpus[0];
    cpu.setSregs({ cr4: cpu.getSregs().cr4 | CR4_OSFXSR });
    const dev = new MemoryLikeDevice();
    cpu.mmio.attach({ base: MMIO_BASE, size: 0x1000 }, dev);
    return { rig, dev };
  }

  const low = PATTERN.readBigUInt64LE(0);
  const high = PATTERN.readBigUInt64LE(8);

  it('movdqu to and from MMIO: the device sees both 8-byte halves of each access in one run', () => {
    const { rig, dev } = sseRig();
    const cpu = rig.cpus[0];
    expect(cpu.runLoop()).toEqual({ reason: 'poweroff', status: 0 });
    expect(dev.log).toEqual(['W8@0', 'W8@8', 'R8@0', 'R8@8']);
    expect([cpu.getRegs().r12, cpu.getRegs().r13]).toEqual([low, high]);
  });

  it('…and also when the run stops after every exit (as a stop, checkpoint or exit limit does)', () => {
    const { rig, dev } = sseRig();
    const cpu = rig.cpus[0];
    const stops: string[] = [];
    for (let i = 0; i < 20; i++) {
      const stop = cpu.runLoop(1);
      stops.push(stop.reason);
      if (stop.reason !== 'exit-limit') break;
    }
    expect(stops[stops.length - 1]).toBe('poweroff');
    expect(dev.log).toEqual(['W8@0', 'W8@8', 'R8@0', 'R8@8']);
    // The load's upper half is the device's answer, not a stale register.
    expect([cpu.getRegs().r12, cpu.getRegs().r13]).toEqual([low, high]);
    expect(cpu.exitCounts().completionExits).toBe(2);
  });

  it('a guest switched mid-computation to a CPU of another VM finishes with the uninterrupted result', () => {
    const data = Uint8Array.from({ length: 65536 }, (_, i) => (i * 13 + 5) & 0xff);
    const boot = { kind: 'flat' as const, mode: 'long' as const, cpl: 3 as const, image: demo.bytes, entry: demo.entry, registers: { rdi: 0x100000, rsi: data.length }, data: [{ gpa: 0x100000, bytes: data }] };
    const devices = [uart8250(), exitDevice({}, 'exit')];
    const memory = [{ name: 'ram', guestPhysAddr: 0, size: 4 << 20 }];
    // The demo guest asks for a checkpoint half-way (an m5op on the doorbell port 0x58); these
    // bare rigs have no m5op device, so that one write is left unclaimed instead of an error.
    const a = makeRig(boot, { devices, memory, unclaimed: 'ignore' });
    const b = makeRig({ ...boot, data: [] }, { devices, memory, unclaimed: 'ignore' });
    rigs.push(a, b);

    // Stretch 1 on VM A: part of the UART line, then drain and switch out mid-way.
    expect(a.cpus[0].runLoop(20)).toEqual({ reason: 'exit-limit' });
    expect(a.cpus[0].drain()).toBeUndefined();
    const tc = a.cpus[0].switchOut();
    expect(a.cpus[0].state).toBe('switched-out');
    expect(() => a.cpus[0].runLoop()).toThrow(/cannot run while switched-out/);

    // VM B gets A's memory and takes over A's thread context.
    const ram = a.vm.memory().read(0, 4 << 20);
    b.vm.memory().write(0, ram);
    b.cpus[0].takeOverFrom(tc);
    expect(b.cpus[0].getRegs().rip).toBe(tc.regs.rip);
    expect(b.cpus[0].runLoop()).toEqual({ reason: 'poweroff', status: 0 });

    const crc = zlib.crc32(data) >>> 0;
    const line = Buffer.from([...a.console, ...b.console]).toString();
    expect(line).toBe(`kvmts demo guest: crc32(65536 bytes) = 0x${crc.toString(16).padStart(8, '0')}\n`);
    expect(a.console.length).toBeGreaterThan(0);
    expect(b.console.length).toBeGreaterThan(0);
  });
});

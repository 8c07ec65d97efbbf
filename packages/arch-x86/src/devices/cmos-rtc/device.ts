/**
 * The CMOS/RTC as a Device at ports 0x70 (index) and 0x71 (data). One instance per vCPU
 * thread plus one on the main thread; the chip lives in `ctx.shared`, so a guest's index write
 * on one vCPU selects the register another vCPU reads, as on a PC. Written by hand: no library
 * models an MC146818 for a VMM in JavaScript.
 */
import type { AccessSize, Device, DeviceContext, HighWord } from '@kvmts/core';
import { cmosMemoryBytes, type CmosMemoryLayout } from './memory-bytes';
import { CMOS_REG, RTC_A_POWER_ON, RTC_B_POWER_ON } from './registers';
import { CmosRegisters, type RtcClock } from './rtc-registers';
import { cmosRtcLayout, writeOffsetMs, type CmosState } from './state';

/** What the chip is set to at power-on. */
export interface CmosPowerOn {
  readonly memory: CmosMemoryLayout;
  /** Guest clock at power-on, ms since the epoch (UTC); undefined → the host's time. */
  readonly startTime: number | undefined;
}

/** The host's clock with sub-millisecond resolution (UIP lasts 244 µs). */
export const hostRtcClock: RtcClock = () => performance.timeOrigin + performance.now();

export class CmosRtc implements Device {
  readonly name: string;
  private readonly state: CmosState;
  private readonly registers: CmosRegisters;

  constructor(
    ctx: DeviceContext,
    private readonly powerOn: CmosPowerOn,
    private readonly clock: RtcClock = hostRtcClock,
  ) {
    this.name = ctx.name;
    this.state = cmosRtcLayout.bind(ctx.shared);
    this.registers = new CmosRegisters(this.state, clock);
    const lock = this.state.lock;
    lock.acquire();
    try {
      // The first instance on a buffer powers the chip on; later ones (other threads) join it.
      if (this.state.initialized === 0) this.applyPowerOn();
    } finally {
      lock.release();
    }
  }

  /** Offset 0 is the index port, 1 the data port; a wider access is a run of byte accesses, lanes past 0x71 read all-ones. */
  read(offset: number, size: AccessSize, out: HighWord): number {
    out.high = 0;
    const lanes = Math.min(size, 4);
    let value = 0;
    const lock = this.state.lock;
    lock.acquire();
    try {
      for (let i = 0; i < lanes; i++) {
        const port = offset + i;
        // The index port is write-only on a PC: it reads all-ones, as QEMU answers.
        const byte = port === 1 ? this.registers.readData() : 0xff;
        value |= byte << (8 * i);
      }
    } finally {
      lock.release();
    }
    return value >>> 0;
  }

  write(offset: number, size: AccessSize, value: number, _valueHigh: number): void {
    const lanes = Math.min(size, 4);
    const lock = this.state.lock;
    lock.acquire();
    try {
      for (let i = 0; i < lanes; i++) {
        const port = offset + i;
        const byte = (value >>> (8 * i)) & 0xff;
        if (port === 0) this.registers.writeIndex(byte);
        else if (port === 1) this.registers.writeData(byte);
      }
    } finally {
      lock.release();
    }
  }

  /** The guest's clock now, ms since the epoch (host side: tests, dumps). */
  guestTime(): number {
    const lock = this.state.lock;
    lock.acquire();
    try {
      return this.registers.guestMs();
    } finally {
      lock.release();
    }
  }

  /** Whether the guest's last index write set the NMI-disable bit. */
  nmiDisabled(): boolean {
    return this.state.nmiDisabled !== 0;
  }

  reset(): void {
    const lock = this.state.lock;
    lock.acquire();
    try {
      this.applyPowerOn();
    } finally {
      lock.release();
    }
  }

  /** The caller holds the lock. */
  private applyPowerOn(): void {
    const s = this.state;
    s.ram.fill(0);
    s.ram[CMOS_REG.STATUS_A] = RTC_A_POWER_ON;
    s.ram[CMOS_REG.STATUS_B] = RTC_B_POWER_ON;
    for (const [reg, byte] of cmosMemoryBytes(this.powerOn.memory)) s.ram[reg] = byte;
    s.index = 0;
    s.nmiDisabled = 0;
    writeOffsetMs(s, this.powerOn.startTime === undefined ? 0 : this.powerOn.startTime - this.clock());
    this.registers.markSeen();
    s.initialized = 1;
  }
}

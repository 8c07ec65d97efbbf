/**
 * The legacy devices a PC guest — Linux in particular — expects at their usual ports and IRQs,
 * as one list of DeviceSpecs: COM1 (the console), the i8042 (IRQ 1 and 12; Linux's `reboot=k`),
 * port 0x92 and the CMOS/RTC told the machine's RAM and vCPU count. A Linux boot profile puts
 * these in the machine; every other device is added next to them.
 */
import type { DeviceSpec } from '@kvmts/core';
import { cmosRtc } from './cmos-rtc';
import { i8042 } from './i8042';
import { systemControlPort } from './system-control-port';
import { uart8250 } from './uart8250';

export interface PcDevicesOptions {
  /** The machine's RAM, as MachineConfig.memory takes it (the CMOS memory-size bytes). */
  readonly memory: number | string;
  /** The machine's vCPU count (CMOS byte 0x5f). Default 1. */
  readonly cpus?: number;
}

/** ISA IRQs of the PC's legacy devices. */
export const PC_ISA_IRQ = { KEYBOARD: 1, COM1: 4, MOUSE: 12 } as const;

/** COM1 ('com1', the console), 'i8042', 'port92' and 'cmos', in that order. */
export function pcDevices(options: PcDevicesOptions): DeviceSpec[] {
  return [
    uart8250({ irq: PC_ISA_IRQ.COM1 }, 'com1'),
    i8042({ irq: PC_ISA_IRQ.KEYBOARD, auxIrq: PC_ISA_IRQ.MOUSE }, 'i8042'),
    systemControlPort('port92'),
    cmosRtc({ memory: options.memory, cpus: options.cpus ?? 1 }, 'cmos'),
  ];
}

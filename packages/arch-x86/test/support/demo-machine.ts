/**
 * The demo guest's machine (guests/demo-checksum.S): it prints over the UART, computes the CRC-32
 * of `data` (placed at 1 MiB, its address and length in rdi/rsi) and reports it through the exit
 * device 'exit' as it powers off.
 */
import type { MachineConfig } from '@kvmts/core';
import { assembleGuest, exitDevice, uart8250, type X86Boot } from '@kvmts/arch-x86';

const DATA_GPA = 0x100000;

export function demoChecksumConfig(data: Uint8Array): MachineConfig<X86Boot> {
  const demo = assembleGuest('demo-checksum');
  return {
    arch: 'x86_64',
    memory: '32M',
    devices: [uart8250(), exitDevice({}, 'exit')],
    boot: { kind: 'flat', mode: 'long', cpl: 3, image: demo.bytes, entry: demo.entry, registers: { rdi: DATA_GPA, rsi: data.length }, data: [{ gpa: DATA_GPA, bytes: data }] },
  };
}

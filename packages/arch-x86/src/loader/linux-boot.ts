/**
 * How x86 boots Linux for `kvmts boot` (ArchPlugin.linuxBoot): the kernel through the x86 loaders
 * (`boot: { kind: 'kernel' }`), KVM's in-kernel irqchip and PIT (Linux wants a PIC, IOAPIC, LAPIC
 * and a timer), and COM1 (8250 at 0x3f8, IRQ 4) as the console. The command line gets
 * `console=ttyS0` unless the user chose a console, and `panic=-1` unless they set panic=, so a
 * panicking kernel reboots at once — a reset the run reports — instead of hanging.
 */
import type { LinuxBootProfile, LinuxBootRequest } from '@kvmts/core';
import { uart8250 } from '../devices/uart8250/plugin';
import type { X86MachineOptions } from '../machine-options';
import type { X86KernelBoot } from './kernel-boot';

/** The console UART's instance name in linuxBoot machines. */
export const X86_LINUX_CONSOLE = 'com1';
const COM1 = { port: 0x3f8, irq: 4 } as const;

/** The kernel command line: the user's words with the console and panic= added unless given. */
export function x86LinuxCmdline(append = ''): string {
  const words = append.split(/\s+/).filter(Boolean);
  const has = (key: string) => words.some((w) => w.startsWith(key));
  return [...(has('console=') ? [] : ['console=ttyS0']), ...words, ...(has('panic=') ? [] : ['panic=-1'])].join(' ');
}

export function x86LinuxBoot(request: LinuxBootRequest): LinuxBootProfile<X86KernelBoot> {
  const cmdline = x86LinuxCmdline(request.append);
  const archOptions: X86MachineOptions = { irqchip: 'kernel' };
  return {
    boot: { kind: 'kernel', image: request.kernel, ...(request.initrd ? { initrd: request.initrd } : {}), cmdline },
    devices: [uart8250({ port: COM1.port, irq: COM1.irq }, X86_LINUX_CONSOLE)],
    consoleDevice: X86_LINUX_CONSOLE,
    cmdline,
    archOptions,
  };
}

/**
 * How x86 boots Linux for `kvmts boot` (ArchPlugin.linuxBoot): the kernel through the x86 loaders
 * (`boot: { kind: 'kernel' }`, which also writes the MP table that lists the vCPUs), KVM's
 * in-kernel irqchip and PIT (Linux wants a PIC, IOAPIC, LAPIC and a timer) with the PC's GSI
 * routes (the PIT on IOAPIC pin 2, as the MP table says), and the legacy PC devices: COM1 (8250
 * at 0x3f8, IRQ 4) as the console, the i8042 (its reset ends the run: `reboot=k`, Linux's default
 * on a PC), port 0x92, the CMOS/RTC, and the ACPI PM1 blocks with the minimal ACPI tables that
 * name them (Linux's `poweroff` ends the run with status 0). The command line gets
 * `console=ttyS0` unless the user chose a console, and `panic=-1` unless they set panic=, so a
 * panicking kernel reboots at once — a reset the run reports — instead of hanging.
 */
import type { LinuxBootProfile, LinuxBootRequest } from '@kvmts/core';
import { pcDevices } from '../devices/pc-devices';
import { acpiPm } from '../devices/acpi-pm';
import type { X86MachineOptions } from '../machine-options';
import type { X86KernelBoot } from './kernel-boot';

/** The console UART's instance name in linuxBoot machines (pcDevices' COM1). */
export const X86_LINUX_CONSOLE = 'com1';
/**
 * The ACPI PM1 blocks' instance name: with them the loader writes ACPI tables, and Linux's
 * `poweroff` ends the run with status 0 instead of halting (firmware/acpi-tables.ts).
 */
export const X86_LINUX_POWER = 'acpi-pm';
/** The CMOS memory bytes' size when the request does not say (kvmts boot's default). */
const DEFAULT_MEMORY = 512 * 1024 * 1024;

/** The kernel command line: the user's words with the console and panic= added unless given. */
export function x86LinuxCmdline(append = ''): string {
  const words = append.split(/\s+/).filter(Boolean);
  const has = (key: string) => words.some((w) => w.startsWith(key));
  return [...(has('console=') ? [] : ['console=ttyS0']), ...words, ...(has('panic=') ? [] : ['panic=-1'])].join(' ');
}

export function x86LinuxBoot(request: LinuxBootRequest): LinuxBootProfile<X86KernelBoot> {
  const cmdline = x86LinuxCmdline(request.append);
  const archOptions: X86MachineOptions = { irqchip: 'kernel', gsiRouting: 'pc' };
  return {
    boot: { kind: 'kernel', image: request.kernel, ...(request.initrd ? { initrd: request.initrd } : {}), cmdline },
    devices: [...pcDevices({ memory: request.memory ?? DEFAULT_MEMORY, cpus: request.cpus ?? 1 }), acpiPm({}, X86_LINUX_POWER)],
    consoleDevice: X86_LINUX_CONSOLE,
    cmdline,
    archOptions,
  };
}

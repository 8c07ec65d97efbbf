/**
 * x86's Linux boot profile (loader/linux-boot.ts, ArchPlugin.linuxBoot, what `kvmts boot`
 * uses): the command line it builds and the machine it asks for.
 */
import { X86_LINUX_CONSOLE, x86ArchPlugin, x86LinuxCmdline } from '@kvmts/arch-x86';

describe('x86 linuxBoot profile', () => {
  it('adds console=ttyS0 and panic=-1 unless given, keeping the user\'s words in order', () => {
    expect(x86LinuxCmdline()).toBe('console=ttyS0 panic=-1');
    expect(x86LinuxCmdline('  quiet   rdinit=/bin/sh ')).toBe('console=ttyS0 quiet rdinit=/bin/sh panic=-1');
    expect(x86LinuxCmdline('console=hvc0 panic=5')).toBe('console=hvc0 panic=5');
  });

  it('boots the kernel and initrd with the PC devices (COM1 at 0x3f8, IRQ 4, the console), ACPI power-off, the in-kernel irqchip and PC routes', () => {
    const kernel = new Uint8Array(16);
    const initrd = new Uint8Array(8);
    const profile = x86ArchPlugin.linuxBoot!({ kernel, initrd, append: 'quiet', memory: 256 * 1024 * 1024, cpus: 2 });
    expect(profile.boot).toEqual({ kind: 'kernel', image: kernel, initrd, cmdline: 'console=ttyS0 quiet panic=-1' });
    expect(profile.cmdline).toBe('console=ttyS0 quiet panic=-1');
    expect(profile.consoleDevice).toBe(X86_LINUX_CONSOLE);
    expect(profile.devices).toEqual([
      { plugin: '@kvmts/arch-x86', type: 'uart8250', name: 'com1', options: { irq: 4 } }, // COM1's default port, 0x3f8
      { plugin: '@kvmts/arch-x86', type: 'i8042', name: 'i8042', options: { irq: 1, auxIrq: 12 } },
      { plugin: '@kvmts/arch-x86', type: 'system-control-port', name: 'port92', options: {} },
      { plugin: '@kvmts/arch-x86', type: 'cmos-rtc', name: 'cmos', options: { memory: 256 * 1024 * 1024, cpus: 2 } },
      // The ACPI PM1 blocks at 0x600: with them the loader writes the ACPI tables Linux powers off through.
      { plugin: '@kvmts/arch-x86', type: 'acpi-pm', name: 'acpi-pm', options: {} },
    ]);
    expect(profile.archOptions).toEqual({ irqchip: 'kernel', gsiRouting: 'pc' });
  });

  it('leaves the initrd out when there is none', () => {
    expect(x86ArchPlugin.linuxBoot!({ kernel: new Uint8Array(1) }).boot).not.toHaveProperty('initrd');
  });
});

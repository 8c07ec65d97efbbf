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

  it('boots the kernel and initrd with COM1 (0x3f8, IRQ 4) as the console and the in-kernel irqchip', () => {
    const kernel = new Uint8Array(16);
    const initrd = new Uint8Array(8);
    const profile = x86ArchPlugin.linuxBoot!({ kernel, initrd, append: 'quiet' });
    expect(profile.boot).toEqual({ kind: 'kernel', image: kernel, initrd, cmdline: 'console=ttyS0 quiet panic=-1' });
    expect(profile.cmdline).toBe('console=ttyS0 quiet panic=-1');
    expect(profile.consoleDevice).toBe(X86_LINUX_CONSOLE);
    expect(profile.devices).toEqual([{ plugin: '@kvmts/arch-x86', type: 'uart8250', name: 'com1', options: { port: 0x3f8, irq: 4 } }]);
    expect(profile.archOptions).toEqual({ irqchip: 'kernel' });
  });

  it('leaves the initrd out when there is none', () => {
    expect(x86ArchPlugin.linuxBoot!({ kernel: new Uint8Array(1) }).boot).not.toHaveProperty('initrd');
  });
});

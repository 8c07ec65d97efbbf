/**
 * `boot: { kind: 'kernel' }` on real KVM: test kernels written in assembly, linked as ELF files
 * and booted through the x86 loaders — a Multiboot kernel (ELF32, guests/multiboot-tests.S) and
 * a PVH kernel (ELF64 with the Xen entry note, guests/pvh-tests.S). Each reads what its loader
 * handed over (registers, info structure, command line, the initrd as module 0, the memory map)
 * and reports it through a port; the values must be the boot plan's. Also: a second vCPU waits
 * for INIT/SIPI instead of running, and a bad image or vCPU set-up fails createMachine by name.
 */
import * as path from 'node:path';
import { ConfigError, createMachine, type Machine } from '@kvmts/core';
import { assembleGuestElf, buildMpTable, exitDevice, mpTablePlacements, planKernelBoot, readExitDeviceState, uart8250, x86ArchPlugin, type X86Boot } from '@kvmts/arch-x86';

const reportModule = path.resolve(__dirname, 'fixtures/report-port-plugin.js');
const { readReports } = require(reportModule) as { readReports(shared: SharedArrayBuffer): number[] };

const MiB = 1024 * 1024;
const MEMORY = 32 * MiB;
const initrd = Uint8Array.from({ length: 10000 }, (_, i) => (i * 7 + 1) & 0xff);
const initrdSum = initrd.reduce((s, b) => s + b, 0);
const ram = x86ArchPlugin.memoryLayout(MEMORY).map((r) => ({ base: r.guestPhysAddr, size: r.size }));
/** "init" / "kvmt" as the little-endian dword a guest reads from the string's start. */
const dword = (s: string) => Buffer.from(s.slice(0, 4), 'latin1').readUInt32LE(0);

async function bootKernel(boot: X86Boot, cpus = 1, irqchip: 'kernel' | 'none' = 'none'): Promise<{ m: Machine<X86Boot>; console: () => string }> {
  let out = '';
  const m = await createMachine<X86Boot>(
    {
      arch: 'x86_64',
      memory: MEMORY,
      cpus,
      archOptions: { irqchip },
      plugins: [reportModule],
      devices: [uart8250({}, 'com1'), exitDevice({}, 'exit'), { plugin: reportModule, type: 'test-report-port', name: 'report', options: { port: 0x10 } }],
      boot,
    },
    { console: (bytes) => (out += Buffer.from(bytes).toString('latin1')) },
  );
  return { m, console: () => out };
}

describeKvm('kernel boot: a Multiboot test kernel (ELF32)', () => {
  const elf = assembleGuestElf('multiboot-tests', { loadAddress: 0x100000, elfClass: 32 }).elf;
  const cmdline = 'multiboot test: root=/dev/null quiet';

  it('is entered with EAX = 0x2BADB002, EBX = multiboot_info, and finds its command line, module and memory map', async () => {
    const plan = planKernelBoot({ image: elf, initrd, cmdline, ram });
    expect(plan.format).toBe('multiboot');
    const { m, console } = await bootKernel({ kind: 'kernel', image: elf, initrd, cmdline });
    try {
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
      const ramBytes = plan.memoryMap.filter((e) => e.type === 1).reduce((s, e) => s + e.size, 0);
      expect(readReports(m.deviceState.get('report')!)).toEqual([
        0x2badb002, // EAX
        0x7000, // EBX: the info structure
        0x24d, // flags: MEM | CMDLINE | MODS | MMAP | LOADER_NAME
        639, // mem_lower (KiB)
        31 * 1024, // mem_upper (KiB): 1 MiB .. 32 MiB
        1, // mods_count
        plan.initrd!.start, // mod_start
        plan.initrd!.start + initrd.length, // mod_end
        initrdSum, // the module's bytes, as the guest summed them
        dword('initrd'),
        3, // mmap entries
        ramBytes, // RAM the mmap reports
        dword('kvmts'), // boot_loader_name
        0x11, // CR0: PE | ET, paging off
        0x10, // CS
      ]);
      expect(plan.initrd!.start).toBe(0x1ffd000);
      expect(console()).toBe(`${cmdline}\n`);
      expect(readExitDeviceState(m.deviceState.get('exit')!)).toMatchObject({ exited: true, status: 0, result: 15 });
    } finally {
      await m.close();
    }
  });

  it('with 2 vCPUs and the in-kernel irqchip, only vCPU 0 runs: vCPU 1 waits for INIT/SIPI; the MP table lists both', async () => {
    const { m } = await bootKernel({ kind: 'kernel', image: elf, initrd, cmdline }, 2, 'kernel');
    try {
      // The kernel's processors and ISA wiring (KVM's routes here: gsiRouting 'kvm'), in the BIOS area.
      const table = buildMpTable({ cpus: 2, isaRouting: 'identity' });
      for (const { gpa, bytes } of mpTablePlacements(table)) expect(m.memory.read(gpa, bytes.length)).toEqual(bytes);
      expect(Buffer.from(m.memory.read(table.floatingPointer.gpa, 4)).toString('latin1')).toBe('_MP_');
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
      const counts = m.exitCounts();
      expect(counts[0].IO).toBeGreaterThan(15);
      expect(counts[1].IO ?? 0).toBe(0);
      expect(readReports(m.deviceState.get('report')!)).toHaveLength(15);
    } finally {
      await m.close();
    }
  });
});

describeKvm('kernel boot: a PVH test kernel (ELF64 with XEN_ELFNOTE_PHYS32_ENTRY)', () => {
  const guest = assembleGuestElf('pvh-tests', { loadAddress: 0x200000, elfClass: 64 });
  const cmdline = 'pvh test console=ttyS0';

  it('is entered at the note\'s entry (not e_entry) with EBX = hvm_start_info, in 32-bit protected mode with IF clear', async () => {
    const plan = planKernelBoot({ image: guest.elf, initrd, cmdline, ram });
    expect(plan.format).toBe('pvh');
    expect(plan.regs.rip).toBe(BigInt(guest.symbols.get('pvh_start')!));
    const { m, console } = await bootKernel({ kind: 'kernel', image: guest.elf, initrd, cmdline });
    try {
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
      const reports = readReports(m.deviceState.get('report')!);
      const ramBytes = plan.memoryMap.filter((e) => e.type === 1).reduce((s, e) => s + e.size, 0);
      expect(reports.slice(0, 11)).toEqual([
        0x7000, // EBX
        0x336ec578, // magic
        1, // version
        1, // nr_modules
        plan.initrd!.start, // modlist[0].paddr
        initrd.length, // modlist[0].size
        initrdSum,
        3, // memmap_entries
        ramBytes,
        0x11, // CR0
        0x10, // CS
      ]);
      expect(reports[11] & 0x200).toBe(0); // RFLAGS.IF
      expect(console()).toBe(`${cmdline}\n`);
      expect(readExitDeviceState(m.deviceState.get('exit')!)).toMatchObject({ exited: true, status: 0, result: 12 });
    } finally {
      await m.close();
    }
  });
});

describeKvm('kernel boot: bad input fails createMachine with a ConfigError', () => {
  const elf = () => assembleGuestElf('multiboot-tests', { loadAddress: 0x100000, elfClass: 32 }).elf;
  async function configError(boot: X86Boot, cpus = 1): Promise<ConfigError> {
    const e = await bootKernel(boot, cpus).then(
      async ({ m }) => {
        await m.close();
        return undefined;
      },
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }

  it('not a kernel', async () => {
    const e = await configError({ kind: 'kernel', image: new Uint8Array(1024) });
    expect(e.setting).toBe('boot.image');
    expect(e.message).toMatch(/not a kernel kvmts can boot/);
  });

  it('an initrd larger than the machine', async () => {
    const e = await configError({ kind: 'kernel', image: elf(), initrd: new Uint8Array(40 * MiB) });
    expect(e.setting).toBe('boot.initrd');
  });

  it('two vCPUs without the in-kernel irqchip (nothing would hold the second one back)', async () => {
    const e = await configError({ kind: 'kernel', image: elf() }, 2);
    expect(e.setting).toBe('archOptions.irqchip');
  });

  it('an image path that cannot be read', async () => {
    const e = await configError({ kind: 'kernel', image: '/nonexistent/vmlinuz' });
    expect(e.setting).toBe('boot.image');
    expect(e.message).toMatch(/cannot read \/nonexistent\/vmlinuz/);
  });
});

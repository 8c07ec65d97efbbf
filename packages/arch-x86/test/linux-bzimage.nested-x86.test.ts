/**
 * Nested x86 tier only: kvmts enters a real Linux bzImage — the emulated host's own Debian kernel,
 * handed in as $KVMTS_GUEST_KERNEL — through the 64-bit boot protocol, on the machine
 * `kvmts boot` builds for it (x86ArchPlugin.linuxBoot: in-kernel irqchip, COM1 console), up to
 * the kernel's first messages. `earlyprintk=serial` starts a console on COM1 in setup_arch, which
 * replays what start_kernel logged before it (without it, printk waits for the serial driver).
 * Booting to userspace is issue #11 item 4's suite; this one proves the loader's hand-over:
 * startup_64 runs, decompresses the kernel, and the kernel reads the command line and the e820
 * table from the zero page (it prints both).
 */
import * as fs from 'node:fs';
import { ConfigError, createMachine, type Machine } from '@kvmts/core';
import { parseBzImageHeader, x86ArchPlugin, type X86Boot } from '@kvmts/arch-x86';

const FIRST_MESSAGE = 'Linux version';
/** Printed right after the early console starts (x86_report_nx), once the replayed lines are out. */
const LAST_MESSAGE = 'NX (Execute Disable)';
const LIMIT_MS = 150_000;

function guestKernel(): Uint8Array {
  const file = process.env.KVMTS_GUEST_KERNEL;
  if (!file) throw new ConfigError('KVMTS_GUEST_KERNEL', 'unset: this suite runs inside the nested x86 host (node scripts/nested/run.js x86)');
  return fs.readFileSync(file);
}

describe('nested x86: a real bzImage entered through the 64-bit boot protocol', () => {
  let machine: Machine<X86Boot> | undefined;
  afterEach(async () => {
    await machine?.close();
    machine = undefined;
  });

  it("Debian's kernel decompresses itself, prints its banner on COM1, and reports the command line and e820 map it was given", async () => {
    const kernel = guestKernel();
    expect(parseBzImageHeader(kernel).version).toBeGreaterThanOrEqual(0x020c);
    const profile = x86ArchPlugin.linuxBoot!({ kernel, append: 'earlyprintk=serial,ttyS0,115200' });
    let console = '';
    let sawAt: number | undefined;
    const t0 = Date.now();
    machine = await createMachine<X86Boot>(
      { arch: 'x86_64', memory: '256M', cpus: 1, devices: profile.devices, boot: profile.boot, archOptions: profile.archOptions },
      {
        console: (bytes) => {
          console += Buffer.from(bytes).toString('latin1');
          if (sawAt === undefined && console.includes(FIRST_MESSAGE)) sawAt = Date.now() - t0;
          // Stop once that line is complete: the banner, command line and e820 map are out by then.
          if (console.includes(LAST_MESSAGE) && console.slice(console.indexOf(LAST_MESSAGE)).includes('\n')) void machine?.stop();
        },
      },
    );
    const timer = setTimeout(() => void machine?.stop(), LIMIT_MS);
    const exit = await machine.run();
    clearTimeout(timer);
    process.stdout.write(`x86 L2 bzImage: exit ${JSON.stringify(exit, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}, ` +
      `first message ${sawAt === undefined ? 'never' : `after ${(sawAt / 1000).toFixed(1)} s`}; console:\n${console.slice(0, 6000)}\n`);
    expect(console).toContain(FIRST_MESSAGE);
    expect(console).toContain(`Command line: ${profile.cmdline}`);
    // The e820 table from the zero page, as a 256 MiB machine's: the EBDA-to-1 MiB hole reserved.
    expect(console).toContain('BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable');
    expect(console).toContain('BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved');
    expect(console).toContain('BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable');
    expect(exit.reason).toBe('stopped');
  }, LIMIT_MS + 60_000);
});

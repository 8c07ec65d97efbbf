/**
 * Nested x86 tier only: kvmts enters a real Linux bzImage — the emulated host's own Debian kernel,
 * handed in as $KVMTS_GUEST_KERNEL — through the 64-bit boot protocol, on the machine
 * `kvmts boot` builds for it (x86ArchPlugin.linuxBoot: in-kernel irqchip, COM1 console), up to
 * the kernel's first message. `earlyprintk=serial` makes both the decompressor and the kernel
 * write to COM1 at once (without it, printk waits for the serial driver). Booting to userspace
 * is issue #11 item 4's suite; this one proves the loader's hand-over: startup_64 runs, finds its
 * zero page and command line, decompresses itself and reaches start_kernel.
 */
import * as fs from 'node:fs';
import { ConfigError, createMachine, type Machine } from '@kvmts/core';
import { parseBzImageHeader, x86ArchPlugin, type X86Boot } from '@kvmts/arch-x86';

const FIRST_MESSAGE = 'Linux version';
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

  it(`Debian's kernel decompresses itself and prints "${FIRST_MESSAGE}" on COM1`, async () => {
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
          // Stop once the line is complete, so the report shows the whole banner.
          if (sawAt === undefined && console.includes(FIRST_MESSAGE) && console.slice(console.indexOf(FIRST_MESSAGE)).includes('\n')) {
            sawAt = Date.now() - t0;
            void machine?.stop();
          }
        },
      },
    );
    const timer = setTimeout(() => void machine?.stop(), LIMIT_MS);
    const exit = await machine.run();
    clearTimeout(timer);
    process.stdout.write(`x86 L2 bzImage: exit ${JSON.stringify(exit, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}, ` +
      `first message ${sawAt === undefined ? 'never' : `after ${(sawAt / 1000).toFixed(1)} s`}; console:\n${console.slice(0, 3000)}\n`);
    expect(console).toContain(FIRST_MESSAGE);
    expect(exit.reason).toBe('stopped');
  }, LIMIT_MS + 60_000);
});

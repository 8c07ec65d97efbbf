/**
 * Nested arm64 tier: kvmts boots Debian's arm64 kernel (the emulated host's own, handed in as
 * $KVMTS_GUEST_KERNEL by the nested runner) with a busybox initramfs to userspace, as an L2
 * guest of a kvmts machine: its Image loader and FDT, the in-kernel vGICv3 and timer, PSCI, and
 * the PL011 as the console. The busybox is the emulated host's own (/bin/busybox, static arm64).
 * `quiet` keeps the console short: every PL011 byte is an MMIO exit here (testing-and-ci.md §4.1.1).
 */
import * as fs from 'node:fs';
import { ConfigError, KvmSystemEvent, createMachine, type Machine } from '@kvmts/core';
import { parseImageHeader, pl011, type Arm64Boot } from '@kvmts/arch-arm64';
import { newcArchive } from './support/newc';

const MARKER = 'kvmts-l2: userspace reached';
const INIT = `#!/bin/busybox sh
/bin/busybox echo "${MARKER} on $(/bin/busybox uname -m), kernel $(/bin/busybox uname -r)"
/bin/busybox poweroff -f
`;

function guestKernel(): Uint8Array {
  const file = process.env.KVMTS_GUEST_KERNEL;
  if (!file) throw new ConfigError('KVMTS_GUEST_KERNEL', 'unset: this suite runs inside the nested arm64 host (npm run test:nested:arm64)');
  return fs.readFileSync(file);
}

describe('nested arm64: a Linux guest booted by kvmts', () => {
  let machine: Machine<Arm64Boot> | undefined;
  afterEach(async () => {
    await machine?.close();
    machine = undefined;
  });

  it("boots Debian's arm64 kernel with a busybox initramfs to userspace, and powers off through PSCI", async () => {
    const image = guestKernel();
    expect(parseImageHeader(image)).toBeDefined();
    const initrd = newcArchive([
      { path: 'bin', kind: 'dir' },
      { path: 'bin/busybox', kind: 'file', mode: 0o755, data: fs.readFileSync('/bin/busybox') },
      { path: 'dev', kind: 'dir' },
      { path: 'dev/console', kind: 'char', major: 5, minor: 1 },
      { path: 'init', kind: 'file', mode: 0o755, data: Buffer.from(INIT) },
    ]);
    let console = '';
    machine = await createMachine<Arm64Boot>(
      {
        arch: 'arm64',
        memory: '256M',
        devices: [pl011()],
        boot: { kind: 'kernel', image, initrd, cmdline: 'console=ttyAMA0 quiet panic=-1' },
      },
      { console: (bytes) => (console += Buffer.from(bytes).toString('latin1')) },
    );
    const t0 = Date.now();
    const exit = await machine.run();
    const seconds = (Date.now() - t0) / 1000;
    process.stdout.write(`arm64 L2 Linux: userspace and power-off after ${seconds.toFixed(1)} s; console:\n${console}\n`);
    expect(console).toContain(`${MARKER} on aarch64`);
    expect(exit).toEqual({ reason: 'system-event', event: KvmSystemEvent.SHUTDOWN, flags: 0n });
  }, 240_000);
});

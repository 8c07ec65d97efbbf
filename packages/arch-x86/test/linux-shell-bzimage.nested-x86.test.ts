/**
 * Nested x86 tier only: Debian's bzImage (the emulated host's own kernel) booted by `kvmts boot`
 * through the 64-bit boot protocol to a busybox shell, as an L2 guest — on 1 vCPU (`nproc` says
 * 1; a sysrq panic → status 2) and on 2 vCPUs (Linux finds both in the ACPI MADT and starts the
 * second with INIT/SIPI: `nproc` says 2; `poweroff -f` → status 0). The 2-vCPU case runs only in
 * an L1 set-up that boots SMP L2 kernels (`l1BootsSmpLinux`: not the tier's default L1, where they
 * freeze). The rig, its retry of a boot the L1 froze and its console heartbeat are in
 * support/linux-shell.ts; the ELF vmlinux through PVH is linux-shell-pvh.nested-x86.test.ts (a
 * file each, so the shard planner can put them on the two emulated hosts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseBzImageHeader } from '@kvmts/arch-x86';
import { SHELL_CASE_LIMIT_MS, guestKernels, l1BootsSmpLinux, shellCase, writeInitramfs } from './support/linux-shell';

const itSmp = l1BootsSmpLinux() ? it : it.skip;

describeKvm('nested x86: the bzImage booted by `kvmts boot` to a busybox shell', () => {
  let dir: string;
  let initrd: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-linux-shell-'));
    initrd = writeInitramfs(dir);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Only in an L1 that boots SMP L2 kernels (support/linux-shell.ts, l1BootsSmpLinux).
  itSmp('2 vCPUs: a typed command runs and answers, nproc says 2, `poweroff -f` ends the run with status 0', async () => {
    const { bzImage } = guestKernels();
    expect(parseBzImageHeader(new Uint8Array(fs.readFileSync(bzImage))).version).toBeGreaterThanOrEqual(0x020c);
    await shellCase('bzImage, 2 vCPUs', bzImage, initrd, 2, 'poweroff');
  }, SHELL_CASE_LIMIT_MS);

  it('1 vCPU: a typed command answers with nproc 1, a kernel panic (sysrq c) ends the run with status 2', async () => {
    await shellCase('bzImage, 1 vCPU, panic', guestKernels().bzImage, initrd, 1, 'panic');
  }, SHELL_CASE_LIMIT_MS);
});

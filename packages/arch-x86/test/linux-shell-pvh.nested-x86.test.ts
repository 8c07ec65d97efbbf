/**
 * Nested x86 tier only: the ELF vmlinux unpacked from Debian's bzImage (the nested runner puts it
 * beside the bzImage) booted by `kvmts boot` through its PVH entry note to a busybox shell, as an
 * L2 guest — on 1 vCPU (`nproc` says 1; `poweroff -f` → status 0) and on 2 vCPUs (`nproc` says 2,
 * the second vCPU found in the ACPI MADT; a sysrq panic → status 2; only in an L1 set-up that
 * boots SMP L2 kernels, `l1BootsSmpLinux`). The rig is support/linux-shell.ts; the bzImage is
 * linux-shell-bzimage.nested-x86.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseElf, pvhEntry } from '@kvmts/arch-x86';
import { SHELL_CASE_LIMIT_MS, guestKernels, l1BootsSmpLinux, shellCase, writeInitramfs } from './support/linux-shell';

const itSmp = l1BootsSmpLinux() ? it : it.skip;

describeKvm('nested x86: the PVH vmlinux booted by `kvmts boot` to a busybox shell', () => {
  let dir: string;
  let initrd: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-linux-shell-pvh-'));
    initrd = writeInitramfs(dir);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('1 vCPU: a typed command runs and answers, nproc says 1, `poweroff -f` ends the run with status 0', async () => {
    const { vmlinux } = guestKernels();
    // A 64-bit ELF with a PVH entry note: what makes kvmts take the PVH path, not the bzImage's.
    const elf = parseElf(new Uint8Array(fs.readFileSync(vmlinux)));
    expect(elf.elfClass).toBe(64);
    expect(pvhEntry(elf)).toBeGreaterThan(0);
    await shellCase('PVH vmlinux, 1 vCPU', vmlinux, initrd, 1, 'poweroff');
  }, SHELL_CASE_LIMIT_MS);

  // Only in an L1 that boots SMP L2 kernels (support/linux-shell.ts, l1BootsSmpLinux).
  itSmp('2 vCPUs: a typed command answers with nproc 2, a kernel panic (sysrq c) ends the run with status 2', async () => {
    await shellCase('PVH vmlinux, 2 vCPUs, panic', guestKernels().vmlinux, initrd, 2, 'panic');
  }, SHELL_CASE_LIMIT_MS);
});

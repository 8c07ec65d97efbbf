/**
 * The pure parts of the checkpoint benchmark's `restore` baseline: the record file the bench
 * writes from a recorded kvmts restore (lib/restore-recorder.js) and the checks baseline-restore.c
 * makes on it before it issues anything (its `--check` mode, which needs no KVM) — every request
 * one a warm restore issues, on the right fd, with the size <linux/kvm.h> gives. The request
 * numbers come from arch-x86's ioctl table, so this also cross-checks that table against the
 * kernel header the C program is compiled with. The timed restore itself needs /dev/kvm (the
 * nested x86 tier; scripts/bench/README.md has its figures).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { X86Ioctl, X86RegsLayout, X86ClockDataLayout } from '@kvmts/arch-x86';

interface BenchRecord { target: number; request: number; bytes?: Uint8Array; value?: bigint }
/* eslint-disable @typescript-eslint/no-require-imports */
const recorder = require('../../../scripts/bench/lib/restore-recorder.js') as {
  serializeRecords(records: BenchRecord[]): Buffer;
  ioctlNames(records: { request: number }[]): string[];
  recordedArg(arg: unknown): { bytes?: Uint8Array; value?: bigint };
  TARGET: { vm: number; vcpu: number };
};
const { parseArgs } = require('../../../scripts/bench/lib/args.js') as { parseArgs(argv: string[]): Record<string, unknown> };
/* eslint-enable @typescript-eslint/no-require-imports */
const { serializeRecords, recordedArg, ioctlNames, TARGET } = recorder;

const SOURCE = path.join(__dirname, '../../../scripts/bench/baseline-restore.c');
const XSAVE_BYTES = 4096;

describe('bench checkpoint: the restore baseline', () => {
  let work: string;
  let exe: string;
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-restore-baseline-'));
    exe = path.join(work, 'baseline-restore');
    execFileSync(process.env.CC ?? 'gcc', ['-O2', '-Wall', '-Werror', '-o', exe, SOURCE]);
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  /** baseline-restore --check on `records`: its exit status, stdout and stderr. */
  function check(records: BenchRecord[]) {
    const file = path.join(work, 'state.bin');
    fs.writeFileSync(file, serializeRecords(records));
    const r = spawnSync(exe, ['--check', file, String(XSAVE_BYTES)], { encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
  }

  const msrs = (n: number): Uint8Array => {
    const b = new Uint8Array(8 + 16 * n);
    new DataView(b.buffer).setUint32(0, n, true);
    return b;
  };

  it('writes each record as u32 target, request, kind, size, then the buffer padded to 8 bytes or the u64 integer', () => {
    const bytes = serializeRecords([
      { target: TARGET.vm, request: 0x4030ae7b, bytes: Uint8Array.of(1, 2, 3) },
      { target: TARGET.vcpu, request: 0xc008ae88, value: 0x1234n },
    ]);
    expect(bytes.toString('hex')).toBe(
      '00000000' + '7bae3040' + '01000000' + '03000000' + '0102030000000000' + '01000000' + '88ae08c0' + '00000000' + '00000000' + '3412000000000000',
    );
  });

  it("names a record's request from core's and arch-x86's ioctl tables, else in hex", () => {
    expect(ioctlNames([{ request: X86Ioctl.SET_CLOCK }, { request: X86Ioctl.SET_SREGS2 }, { request: 0xc008ae05 }, { request: 0x1234 }])).toEqual([
      'KVM_SET_CLOCK',
      'KVM_SET_SREGS2',
      'KVM_GET_SUPPORTED_CPUID',
      '0x1234',
    ]);
  });

  it('records a copy of the buffer passed, so a later change to it is not what was issued', () => {
    const buf = new DataView(new ArrayBuffer(8), 0, 4);
    buf.setUint32(0, 0xaabbccdd, true);
    const arg = recordedArg(buf);
    buf.setUint32(0, 0, true);
    expect(Buffer.from(arg.bytes!).toString('hex')).toBe('ddccbbaa');
    expect(recordedArg(7)).toEqual({ value: 7n });
    expect(recordedArg(undefined)).toEqual({ value: 0n });
  });

  it("accepts a restore's ioctls with arch-x86's request numbers and sizes, and lists them in order", () => {
    const r = check([
      { target: TARGET.vm, request: X86Ioctl.SET_CLOCK, bytes: new Uint8Array(X86ClockDataLayout.size) },
      { target: TARGET.vcpu, request: X86Ioctl.SET_REGS, bytes: new Uint8Array(X86RegsLayout.size) },
      { target: TARGET.vcpu, request: X86Ioctl.SET_XSAVE, bytes: new Uint8Array(XSAVE_BYTES) },
      { target: TARGET.vcpu, request: X86Ioctl.SET_MSRS, bytes: msrs(3) },
    ]);
    expect(r).toEqual({ status: 0, stdout: '{"ioctls":["KVM_SET_CLOCK","KVM_SET_REGS","KVM_SET_XSAVE","KVM_SET_MSRS"]}\n', stderr: '' });
  });

  it('refuses a buffer of another size than <linux/kvm.h> gives, naming the ioctl and both sizes', () => {
    expect(check([{ target: TARGET.vcpu, request: X86Ioctl.SET_REGS, bytes: new Uint8Array(X86RegsLayout.size - 8) }])).toMatchObject({
      status: 2,
      stdout: '', // refused before printing: no half JSON line
      stderr: `baseline-restore: KVM_SET_REGS: ${X86RegsLayout.size - 8} bytes recorded, <linux/kvm.h> says ${X86RegsLayout.size}`,
    });
    // A variable-length struct: its header's count decides (3 MSRs need 8 + 3 × 16 bytes).
    const short = msrs(3).subarray(0, 8 + 2 * 16);
    expect(check([{ target: TARGET.vcpu, request: X86Ioctl.SET_MSRS, bytes: short }])).toMatchObject({ status: 2, stdout: '', stderr: 'baseline-restore: KVM_SET_MSRS: 40 bytes recorded, <linux/kvm.h> says 56' });
  });

  it('refuses a request a warm restore does not issue, and one on the wrong fd', () => {
    expect(check([{ target: TARGET.vcpu, request: X86Ioctl.GET_REGS, bytes: new Uint8Array(X86RegsLayout.size) }])).toMatchObject({
      status: 2,
      stdout: '', // refused before printing: no half JSON line
      stderr: `baseline-restore: ioctl 0x${X86Ioctl.GET_REGS.toString(16)} (record 0) is not one a warm restore issues`,
    });
    expect(check([{ target: TARGET.vm, request: X86Ioctl.SET_REGS, bytes: new Uint8Array(X86RegsLayout.size) }])).toMatchObject({
      status: 2,
      stdout: '', // refused before printing: no half JSON line
      stderr: `baseline-restore: ioctl 0x${X86Ioctl.SET_REGS.toString(16)} is on the wrong fd (target 0)`,
    });
  });

  it('refuses a cut-off file', () => {
    const file = path.join(work, 'cut.bin');
    fs.writeFileSync(file, serializeRecords([{ target: TARGET.vcpu, request: X86Ioctl.SET_REGS, bytes: new Uint8Array(X86RegsLayout.size) }]).subarray(0, 40));
    const r = spawnSync(exe, ['--check', file, String(XSAVE_BYTES)], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/record at byte 16 is cut off/);
  });

  it('the checkpoint benchmark takes --only restore and --only save', () => {
    expect(parseArgs(['checkpoint', '--only', 'restore'])).toMatchObject({ benchmark: 'checkpoint', only: 'restore' });
    expect(parseArgs(['checkpoint', '--only', 'save'])).toMatchObject({ benchmark: 'checkpoint', only: 'save' });
    expect(parseArgs(['checkpoint'])).toMatchObject({ only: undefined });
    expect(() => parseArgs(['checkpoint', '--only', 'cold'])).toThrow(/--only.*expects one of restore, save, got 'cold'/);
  });
});

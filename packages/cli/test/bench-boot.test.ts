/**
 * The pure parts of `npm run bench -- boot` (scripts/bench/boot.js and lib/boot-run.js): its
 * command line, the marker clock, the medians and ratios of its scenarios, the checks on kvmts'
 * --json summary, and the relay of a nested run's result lines. The benchmark itself is run,
 * not tested (scripts/bench/README.md has its figures).
 */
import { ConfigError } from '@kvmts/core';

interface Result { scenario: string; kvmts_ns_per_op: number; baseline_ns_per_op: number; ratio: number; target: number; extra?: Record<string, unknown> }
interface Boot {
  scenarios(arch: string, cpus: number, s: { qemu: number[]; kvmts: number[]; kvmtsReady: number[]; kvmtsStart: number[]; others?: Record<string, number[]>; kvmtsVmmKiB?: number[]; bareNodeKiB?: number }): Result[];
  parseRelayed(lines: string[]): Result[];
  kvmtsSummary(stdout: string, append: string): { readyMs: number; startMs: number };
  commands(spec: unknown, inputs: { kernel: string; initrd: string }, cpus: number, words?: string): {
    append: string; qemu: { args: string[] }; baselines: { name: string; label: string; suffix: string; args: string[] }[]; kvmts: { args: string[] };
  };
  ARCHES: Record<string, unknown>;
  MARKER: string;
}
/* eslint-disable @typescript-eslint/no-require-imports */
const boot = require('../../../scripts/bench/boot.js') as Boot;
const { MarkerClock } = require('../../../scripts/bench/lib/boot-run.js') as { MarkerClock: new (marker: string, now: () => bigint) => { feed(text: string): void; at: bigint | undefined } };
const { parseArgs } = require('../../../scripts/bench/lib/args.js') as { parseArgs(argv: string[]): Record<string, unknown> };
const { jsonLines } = require('../../../scripts/bench/lib/report.js') as { jsonLines(results: Result[]): string[] };
/* eslint-enable @typescript-eslint/no-require-imports */

describe('bench boot: command line', () => {
  it('takes --arch, --runs and --cpus, with 5 runs and no arch or vCPU count by default', () => {
    expect(parseArgs(['boot', '--arch', 'arm64', '--json'])).toMatchObject({ benchmark: 'boot', arch: 'arm64', runs: 5, cpus: undefined, json: true });
    expect(parseArgs(['boot', '--arch=x86_64', '--runs', '3', '--cpus=2'])).toMatchObject({ arch: 'x86_64', runs: 3, cpus: 2 });
  });

  it('rejects an unknown arch and a zero run count with a ConfigError naming the option', () => {
    expect(() => parseArgs(['boot', '--arch', 'riscv'])).toThrow(new ConfigError('--arch', "expects one of arm64, x86_64, got 'riscv'"));
    expect(() => parseArgs(['boot', '--runs', '0'])).toThrow(new ConfigError('--runs', "expects an integer ≥ 1, got '0'"));
    expect(() => parseArgs(['boot', '--arch'])).toThrow(/--arch.*got nothing/);
  });
});

describe('bench boot: the marker clock', () => {
  it('stops at the chunk that completes the marker, even when chunks split it', () => {
    let t = 0n;
    const clock = new MarkerClock('userspace reached', () => (t += 10n));
    clock.feed('[ boot ] user');
    expect(clock.at).toBeUndefined();
    clock.feed('space rea');
    clock.feed('ched\nmore');
    expect(clock.at).toBe(10n);
    clock.feed('userspace reached again');
    expect(clock.at).toBe(10n);
  });
});

describe('bench boot: scenarios', () => {
  const samples = {
    qemu: [2.0e9, 1.5e9, 1.8e9, 3.0e9, 1.6e9],
    kvmts: [2.4e9, 2.2e9, 2.0e9, 2.6e9, 2.1e9],
    kvmtsReady: [1.0e9, 0.9e9, 1.1e9, 0.8e9, 1.2e9],
    kvmtsStart: [1.1e9, 1.0e9, 1.2e9, 1.0e9, 1.3e9],
  };

  it('reports medians, their ratio, the per-run figures and the start-up median', () => {
    const [cold, inProcess] = boot.scenarios('arm64', 1, samples);
    expect(cold).toEqual({
      scenario: 'boot-arm64-1cpu', kvmts_ns_per_op: 2.2e9, baseline_ns_per_op: 1.8e9, ratio: 2.2 / 1.8, target: 1,
      extra: { runs: 5, kvmts_ms: [2400, 2200, 2000, 2600, 2100], baseline_ms: [2000, 1500, 1800, 3000, 1600], kvmts_start_ms: 1100 },
    });
    expect(inProcess).toEqual({
      scenario: 'boot-arm64-1cpu-inprocess', kvmts_ns_per_op: 1.0e9, baseline_ns_per_op: 1.8e9, ratio: 1.0 / 1.8, target: 1,
      extra: { runs: 5, kvmts_ms: [1000, 900, 1100, 800, 1200] },
    });
  });

  it('prints the common four fields first, then the extra ones, and relays them back unchanged', () => {
    const results = boot.scenarios('arm64', 2, samples);
    const lines = jsonLines(results);
    expect(lines[0]).toBe('{"scenario":"boot-arm64-2cpu","kvmts_ns_per_op":2200000000,"baseline_ns_per_op":1800000000,"ratio":1.2222,' +
      '"runs":5,"kvmts_ms":[2400,2200,2000,2600,2100],"baseline_ms":[2000,1500,1800,3000,1600],"kvmts_start_ms":1100}');
    // A nested run's stdout: the emulated host's console around the result lines.
    const relayed = boot.parseRelayed(['[    0.000000] Booting Linux', `  1 vCPU run 1/5: QEMU 2.00 s`, ...lines, '@@KVMTS@@ exit 0']);
    expect(relayed.map((r) => [r.scenario, r.kvmts_ns_per_op, r.baseline_ns_per_op, r.ratio])).toEqual([
      ['boot-arm64-2cpu', 2.2e9, 1.8e9, 1.2222],
      ['boot-arm64-2cpu-inprocess', 1.0e9, 1.8e9, 0.5556],
    ]);
    expect(relayed[0].extra).toEqual({ runs: 5, kvmts_ms: [2400, 2200, 2000, 2600, 2100], baseline_ms: [2000, 1500, 1800, 3000, 1600], kvmts_start_ms: 1100 });
  });
});

describe('bench boot: both sides boot the same thing', () => {
  it('gives QEMU and kvmts the same kernel, initramfs, memory, vCPUs and command line', () => {
    const cmd = boot.commands(boot.ARCHES.arm64, { kernel: '/k/Image', initrd: '/t/initrd.cpio' }, 2);
    expect(cmd.append).toBe('console=ttyAMA0 quiet panic=-1');
    expect(cmd.qemu.args).toEqual(['-M', 'virt,gic-version=3', '-enable-kvm', '-cpu', 'host', '-m', '256M', '-smp', '2', '-nographic', '-nodefaults',
      '-serial', 'stdio', '-no-reboot', '-kernel', '/k/Image', '-initrd', '/t/initrd.cpio', '-append', 'console=ttyAMA0 quiet panic=-1']);
    expect(cmd.kvmts.args.slice(1)).toEqual(['boot', '--kernel', '/k/Image', '--initrd', '/t/initrd.cpio', '--append', 'quiet', '--mem', '256M',
      '--cpus', '2', '--json', '--ready-marker', boot.MARKER]);
  });

  it("checks kvmts' --json summary: its command line must be QEMU's, and it must carry readyMs and startMs", () => {
    const ok = '{"arch":"arm64","cmdline":"console=ttyAMA0 quiet panic=-1","status":0,"wallMs":2100.5,"startMs":900.1,"readyMs":1800.2}';
    expect(boot.kvmtsSummary(`console noise\n${ok}\n`, 'console=ttyAMA0 quiet panic=-1')).toMatchObject({ readyMs: 1800.2, startMs: 900.1 });
    expect(() => boot.kvmtsSummary(ok, 'console=ttyAMA0 panic=-1')).toThrow("kvmts booted with 'console=ttyAMA0 quiet panic=-1', QEMU with 'console=ttyAMA0 panic=-1': not the same boot");
    expect(() => boot.kvmtsSummary(ok.replace('"readyMs":1800.2', '"readyMs":null'), 'console=ttyAMA0 quiet panic=-1')).toThrow(/no readyMs/);
    expect(() => boot.kvmtsSummary('not json', 'x')).toThrow('kvmts boot printed no JSON summary: not json');
  });
});

describe('bench boot: x86', () => {
  it('boots the same bzImage, initramfs and command line on QEMU microvm, QEMU q35 and kvmts', () => {
    const cmd = boot.commands(boot.ARCHES.x86_64, { kernel: '/k/vmlinuz', initrd: '/t/initrd.cpio' }, 2);
    expect(cmd.append).toBe('console=ttyS0 quiet panic=-1');
    const tail = ['-nographic', '-nodefaults', '-serial', 'stdio', '-no-reboot', '-kernel', '/k/vmlinuz', '-initrd', '/t/initrd.cpio', '-append', 'console=ttyS0 quiet panic=-1'];
    expect(cmd.baselines.map((b) => [b.name, b.label, b.suffix, b.args])).toEqual([
      ['microvm', 'QEMU microvm', '', ['-M', 'microvm', '-enable-kvm', '-cpu', 'host', '-m', '256M', '-smp', '2', ...tail]],
      ['q35', 'QEMU q35', '-q35', ['-M', 'q35', '-enable-kvm', '-cpu', 'host', '-m', '256M', '-smp', '2', ...tail]],
    ]);
    expect(cmd.qemu).toBe(cmd.baselines[0]);
    expect(cmd.kvmts.args.slice(1)).toEqual(['boot', '--kernel', '/k/vmlinuz', '--initrd', '/t/initrd.cpio', '--append', 'quiet', '--mem', '256M',
      '--cpus', '2', '--json', '--ready-marker', boot.MARKER]);
    // Extra command-line words go to both sides alike (l2-boot-trials.js uses them).
    const more = boot.commands(boot.ARCHES.x86_64, { kernel: '/k/vmlinuz', initrd: '/t/initrd.cpio' }, 1, 'quiet tsc=reliable');
    expect(more.append).toBe('console=ttyS0 quiet tsc=reliable panic=-1');
    expect(more.kvmts.args).toContain('quiet tsc=reliable');
  });

  it('reports each further baseline as its own scenario, and kvmts\' memory beyond guest RAM against a bare Node', () => {
    const results = boot.scenarios('x86_64', 1, {
      qemu: [10e9, 12e9, 11e9], others: { q35: [20e9, 22e9, 21e9] }, kvmts: [15e9, 14e9, 16e9], kvmtsReady: [9e9, 8e9, 10e9], kvmtsStart: [3e9, 4e9, 5e9],
      kvmtsVmmKiB: [90 * 1024, 95 * 1024, 100 * 1024], bareNodeKiB: 45 * 1024,
    });
    expect(results.map((r) => [r.scenario, r.kvmts_ns_per_op, r.baseline_ns_per_op])).toEqual([
      ['boot-x86_64-1cpu', 15e9, 11e9],
      ['boot-x86_64-1cpu-inprocess', 9e9, 11e9],
      ['boot-x86_64-1cpu-q35', 15e9, 21e9],
    ]);
    expect(results[0].extra).toMatchObject({ kvmts_start_ms: 4000, kvmts_vmm_rss_mib: 95, bare_node_rss_mib: 45, over_bare_node_mib: 50 });
    expect(results[2].extra).toEqual({ runs: 3, kvmts_ms: [15000, 14000, 16000], baseline_ms: [20000, 22000, 21000] });
  });
});

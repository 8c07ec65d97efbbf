#!/usr/bin/env node
'use strict';
/**
 * How reliably (and how fast) Linux boots as an L2 guest inside a nested tier's emulated host:
 * boots the boot benchmark's kernel and busybox initramfs N times per set-up and prints one line
 * per boot and a table at the end (boots that reached userspace and powered off, median time).
 * A boot that hangs is killed after --timeout seconds and counted as failed; the next goes on.
 * Run inside the emulated host, e.g. (docs/testing.md, "Linux as an L2 guest"):
 *
 *   KVMTS_NESTED_SHARDS=1 KVMTS_NESTED_GUEST_QEMU=1 \
 *   KVMTS_NESTED_CMD='node scripts/bench/l2-boot-trials.js --runs 4 kvmts:bz:1 kvmts:bz:2 kvmts:pvh:1 microvm:bz:1' \
 *     node scripts/nested/run.js x86
 *
 * A set-up is `<vmm>:<kernel>:<vCPUs>[:<extra command-line words, comma-separated>]`: vmm is
 * kvmts or one of the arch's QEMU baselines (x86: microvm, q35); kernel is bz (the bzImage in
 * $KVMTS_GUEST_KERNEL) or pvh (the vmlinux beside it).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const boot = require('./boot');
const { timedBoot } = require('./lib/boot-run');
const { median } = require('./lib/stats');

function parse(argv) {
  const o = { runs: 3, timeout: 150, arch: 'x86_64', setups: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') o.runs = Number(argv[++i]);
    else if (argv[i] === '--timeout') o.timeout = Number(argv[++i]);
    else if (argv[i] === '--arch') o.arch = argv[++i];
    else o.setups.push(argv[i]);
  }
  return o;
}

async function main() {
  const o = parse(process.argv.slice(2));
  const spec = boot.ARCHES[o.arch];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-l2-trials-'));
  const inputs = boot.guestInputs(spec, dir);
  const vmlinux = path.join(path.dirname(inputs.kernel), 'vmlinux');
  const rows = [];
  for (const setup of o.setups) {
    const [vmm, kernel, cpus, extra] = setup.split(':');
    const words = ['quiet', ...(extra ? extra.split(',') : [])].join(' ');
    const cmd = boot.commands(spec, { ...inputs, kernel: kernel === 'pvh' ? vmlinux : inputs.kernel }, Number(cpus), words);
    const side = vmm === 'kvmts' ? cmd.kvmts : cmd.baselines.find((b) => b.name === vmm);
    if (!side) throw new Error(`${setup}: no VMM ${vmm}`);
    const times = [];
    let failed = 0;
    for (let i = 0; i < o.runs; i++) {
      const t0 = Date.now();
      try {
        const r = await timedBoot({ ...side, timeoutMs: o.timeout * 1000 });
        times.push(r.ns / 1e6);
        process.stdout.write(`trial ${setup} #${i + 1}: ok ${(r.ns / 1e9).toFixed(1)} s (exit after ${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
      } catch (err) {
        failed++;
        process.stdout.write(`trial ${setup} #${i + 1}: FAILED after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${err.message}\n`);
      }
    }
    rows.push({ setup, ok: times.length, runs: o.runs, failed, medianS: times.length ? median(times) / 1000 : null, times: times.map((t) => Math.round(t) / 1000) });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`trials (${os.cpus().length} CPUs, L0 QEMU ${process.env.KVMTS_L0_QEMU_VERSION ?? '?'}):\n`);
  for (const r of rows) process.stdout.write(`  ${r.setup.padEnd(48)} ${r.ok}/${r.runs} ok, median ${r.medianS === null ? '-' : `${r.medianS.toFixed(1)} s`} ${JSON.stringify(r.times)}\n`);
  return rows.every((r) => r.failed === 0) ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (err) => { process.stderr.write(`${err.stack}\n`); process.exitCode = 2; });

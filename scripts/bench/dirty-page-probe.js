#!/usr/bin/env node
'use strict';
/**
 * Which pages an incremental checkpoint logs besides the ones the guest wrote — the question
 * behind the benchmark's "0x8000" (docs/checkpoints.md, incremental checkpoints). The guest is
 * incremental-tests.S (code at 0x8000, identity map at 0x10000: PML4, PDPT, PD); each link is
 * taken after one incremental pass (`rcx` pages written from 16 MiB, or 4 MiB for a 16 MiB guest).
 *
 *   node scripts/bench/dirty-page-probe.js
 *
 * Variants, one line each (`variant: link n: <pages besides the guest's>`):
 *   bench      the benchmark's shape: 256 MiB, 64 MiB first pass, 1024 pages per link
 *   small      the KVM test's shape: 16 MiB, 64 pages first pass, 5 pages per link
 *   few        256 MiB, 64 MiB first pass, 5 pages per link (is it the link's size?)
 *   invalidate as bench, but before each link's pass the process's page tables are write-
 *              protected through /proc/self/clear_refs (4: clear soft-dirty), which invalidates
 *              every host mapping of guest RAM (MMU notifier) without writing a byte of it
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createMachine } = require('@kvmts/core');
const { loadPrebuiltGuest } = require('@kvmts/arch-x86');

const MIB = 1024 * 1024;
const PAGE = 4096;

function config(memoryMib, first, firstPages, laterPages) {
  const guest = loadPrebuiltGuest('incremental-tests');
  return {
    arch: 'x86_64',
    memory: memoryMib * MIB,
    archOptions: { irqchip: 'kernel' },
    boot: { kind: 'flat', mode: 'long', cpl: 0, image: guest.bytes, entry: guest.symbols.get('touch_pages'), registers: [{ rdi: BigInt(first), rsi: BigInt(firstPages), rcx: BigInt(laterPages), rdx: 0x1000n, r8: BigInt(PAGE) }] },
  };
}

function extraPages(dir, first, laterPages) {
  const map = fs.readFileSync(path.join(dir, 'pages.bin'));
  const out = [];
  for (let p = 0; p < map.length * 8; p++) {
    if (!(map[p >>> 3] & (1 << (p & 7)))) continue;
    const gpa = p * PAGE;
    if (gpa >= first && gpa < first + laterPages * PAGE) continue;
    out.push(`0x${gpa.toString(16)}`);
  }
  return out.join(' ') || '(none)';
}

async function probe(name, memoryMib, first, firstPages, laterPages, beforePass = () => undefined) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `kvmts-probe-${name}-`));
  const m = await createMachine(config(memoryMib, first, firstPages, laterPages), { console: () => undefined });
  try {
    await m.run({ maxExits: 1 });
    let parent = path.join(work, 'base');
    await m.checkpoint(parent, { track: true });
    for (let link = 0; link < 3; link++) {
      beforePass();
      await m.run({ maxExits: 2 });
      const dir = path.join(work, `l${link}`);
      await m.checkpoint(dir, { parent });
      process.stdout.write(`${name}: link ${link}: ${extraPages(dir, first, laterPages)}\n`);
      parent = dir;
    }
  } finally {
    await m.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  await probe('bench', 256, 16 * MIB, (64 * MIB) / PAGE, 1024);
  await probe('small', 16, 4 * MIB, 64, 5);
  await probe('few', 256, 16 * MIB, (64 * MIB) / PAGE, 5);
  await probe('invalidate', 256, 16 * MIB, (64 * MIB) / PAGE, 1024, () => fs.writeFileSync('/proc/self/clear_refs', '4'));
}

main().catch((e) => {
  process.stderr.write(`dirty-page-probe: ${e.stack ?? e}\n`);
  process.exit(1);
});

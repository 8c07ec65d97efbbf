'use strict';
/**
 * `checkpoint-reader`: core's checkpoint reader (CheckpointReader: manifest, sections, page map,
 * page checksums) and the memory-image check a restore runs (verifyMemoryImage), on a real
 * checkpoint written fresh for each case and then damaged one way: a byte flipped, a file cut
 * short, grown, emptied, deleted, or replaced by a directory or a FIFO. Every such damage must be
 * reported as a CheckpointError — a read that succeeds anyway is a finding (something went
 * unchecked), as is any other error, or a hang on the FIFO.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { CheckpointReader, CheckpointWriter, verifyMemoryImage } = require('@kvmts/core');
const { invariant } = require('../lib/invariant');

const PAGE = 4096;
const FILES = ['manifest.json', 'sections.jsonl', 'memory.img', 'pages.bin', 'pages.crc'];
const DAMAGE = ['flip', 'flip', 'flip', 'truncate', 'append', 'empty', 'delete', 'directory', 'fifo'];
const HEADER = {
  arch: 'fuzz-arch',
  kvmtsVersion: '0.1.0',
  createdAt: '2026-01-01T00:00:00.000Z',
  config: { arch: 'fuzz-arch', memory: 4 * PAGE },
  bootSha256: null,
  vcpus: 1,
  cpu: { kind: 'fuzz-cpu', identity: { vendor: 'none', model: '0x0' }, features: {}, digest: '0'.repeat(64) },
};
const FLAGS = { kvmMap: true, inAddrMap: true, confReported: true, readOnly: false, dirtyLog: false };

/** Guest RAM of the checkpoint: page 0 full, page 1 zero (a hole), pages 2–3 with a few bytes. */
function ram() {
  const low = new Uint8Array(2 * PAGE).fill(0xa5, 0, PAGE);
  const high = new Uint8Array(2 * PAGE);
  high[7] = 1;
  high[PAGE + 100] = 0xff;
  return [
    { name: 'low', guestPhysAddr: 0, size: low.length, ...FLAGS, views: [low] },
    { name: 'high', guestPhysAddr: 0x100000, size: high.length, ...FLAGS, views: [high] },
  ];
}

function writeCheckpoint(dir) {
  fs.mkdirSync(dir);
  const w = new CheckpointWriter(dir);
  w.addSection('vcpu.0', 1, { rip: 0x8000n, xsave: new Uint8Array(16).fill(7) });
  w.addSection('x86.clock', 1, { clock: 123456789n });
  w.writeMemorySync(ram());
  return w.finish(HEADER);
}

function generate(rng) {
  return { file: rng.pick(FILES), damage: rng.pick(DAMAGE), at: rng.u32(), xor: rng.int(1, 255), extra: rng.int(1, 3 * PAGE) };
}

function damage(file, { damage: kind, at, xor, extra }) {
  const size = fs.statSync(file).size;
  switch (kind) {
    case 'flip': {
      if (size === 0) return fs.writeFileSync(file, Uint8Array.of(xor));
      const bytes = fs.readFileSync(file);
      bytes[at % size] ^= xor;
      return fs.writeFileSync(file, bytes);
    }
    case 'truncate':
      return fs.truncateSync(file, size === 0 ? 0 : at % size);
    case 'append':
      return fs.appendFileSync(file, new Uint8Array(extra).fill(xor));
    case 'empty':
      return fs.truncateSync(file, 0);
    case 'delete':
      return fs.rmSync(file);
    case 'directory':
      fs.rmSync(file);
      return fs.mkdirSync(file);
    case 'fifo': {
      fs.rmSync(file);
      const r = spawnSync('mkfifo', [file]);
      invariant(r.status === 0, `mkfifo failed: ${r.stderr}`);
      return undefined;
    }
  }
  return undefined;
}

/** Everything a restore reads, in its order: the manifest, each section, the page map and checksums, the image. */
function readAll(dir) {
  const r = CheckpointReader.open(dir);
  for (const s of r.manifest.sections) r.section(s.name);
  const pageMap = r.pageMap();
  const checksums = r.pageChecksums();
  const image = path.join(dir, r.manifest.memory.file);
  // The open checked it is a regular file of the manifest's size; a restore maps it as guest RAM.
  const bytes = new Uint8Array(fs.readFileSync(image));
  const fd = fs.openSync(image, 'r');
  try {
    const targets = r.manifest.memory.regions.map((region) => ({ ...region, views: [bytes.subarray(region.fileOffset, region.fileOffset + region.size)] }));
    verifyMemoryImage(image, fd, pageMap, checksums, targets);
  } finally {
    fs.closeSync(fd);
  }
}

function sameJson(a, b) {
  try {
    return JSON.stringify(JSON.parse(a.toString('utf8'))) === JSON.stringify(JSON.parse(b.toString('utf8')));
  } catch {
    return false;
  }
}

function execute(input) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-fuzz-ckpt-'));
  try {
    const dir = path.join(work, 'ck');
    writeCheckpoint(dir);
    readAll(dir); // the undamaged checkpoint reads
    const file = path.join(dir, input.file);
    const before = fs.readFileSync(file);
    damage(file, input);
    const after = fs.existsSync(file) && fs.statSync(file).isFile() ? fs.readFileSync(file) : undefined;
    // A flip or cut that left the bytes as they were (an empty file cut to 0) is no damage; nor is
    // a change of the manifest's whitespace (its checksum covers its content, not its layout).
    if (after !== undefined && after.equals(before)) return;
    if (after !== undefined && input.file === 'manifest.json' && sameJson(before, after)) return;
    readAll(dir);
    invariant(false, `${input.damage} of ${input.file} went unnoticed: the checkpoint read back without a CheckpointError`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

module.exports = { description: 'the checkpoint reader and memory-image check on checkpoints damaged one way each', generate, execute };

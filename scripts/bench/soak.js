'use strict';
/**
 * `soak`: one x86 machine (createMachine: a vCPU worker thread, real devices) runs a guest that
 * loops over four exits — a PIO write to the exit device, an MMIO write and read of RAM served
 * over MMIO, a UART byte — for `--exits` exits in slices of `--slice` (run({ maxExits })). After
 * each slice it samples the process (sampleProcess: RSS by kind, both threads' V8 heaps, the C
 * heap, fds, threads). The target is flat: nothing the framework does per exit may accumulate;
 * lib/soak-verdict.js computes `flat` from the second half of the samples. The figures are a
 * measurement; the run fails (BenchError) only when the machine did not do the exits it was
 * asked for.
 */
const fs = require('node:fs');
const path = require('node:path');
const { createMachine, threadHeapStatistics } = require('@kvmts/core');
const { mallocStats, mallocTrim } = require('@kvmts/native');
const { assembleGuest, exitDevice, uart8250, readExitDeviceState } = require('@kvmts/arch-x86');
const { BenchError } = require('./lib/errors');
const { soakVerdict, secondHalf } = require('./lib/soak-verdict');
const { readRssByMapping, rssGrowth } = require('./lib/smaps');

const description = 'RSS, fds and threads of one machine over millions of PIO, MMIO and UART exits (target: flat)';

const GUEST_SOURCE = path.join(__dirname, 'guests', 'soak-loop.S');
/** RAM at GPA 0 (image at 0x8000, stack, page tables). */
const RAM_BYTES = 4 << 20;
/** One page of RAM that is not a KVM slot: every access exits and core serves it from host memory. */
const MMIO_RAM_BASE = 0x10000000;
const MMIO_RAM_BYTES = 0x1000;
const IDENTITY_MAP_BYTES = 1 << 30;
/** Exits per loop iteration of soak-loop.S. */
const EXITS_PER_ITERATION = 4;

const KiB = (bytes) => Math.round(bytes / 1024);

/** Fields of /proc/self/status, in kB (RssAnon is where a leak lands; RssFile is code paged in and out). */
function procStatus() {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
  return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile'), shmem: field('RssShmem'), threads: field('Threads') };
}

/**
 * One sample of this process: what would grow if something leaked per exit, attributed — RSS
 * split by kind, each thread's V8 heap (the main thread's and the vCPU thread's, which runs the
 * exits), the C heap (mallinfo2 over all arenas: in use, free but held, mmapped), fds, threads.
 * With `gc`, both threads collect first (the heap figures as the run left them are kept too, as
 * `*_before_gc_kib`); with `trim`, malloc_trim(0) runs first too.
 */
async function sampleProcess(machine, { gc = false, trim = false } = {}) {
  // With gc: the figures as the run left them first (how much garbage a slice leaves behind).
  const natural = gc ? { vcpu: (await machine.vcpuHeapStatistics())[0], main: threadHeapStatistics(), anon: procStatus().anon } : undefined;
  const [vcpu] = await machine.vcpuHeapStatistics({ gc });
  const main = threadHeapStatistics({ gc });
  if (trim) mallocTrim();
  const c = mallocStats();
  const mem = process.memoryUsage();
  const proc = procStatus();
  return {
    rss_kib: KiB(mem.rss),
    rss_anon_kib: proc.anon,
    rss_file_kib: proc.file,
    rss_shmem_kib: proc.shmem,
    heap_used_kib: KiB(main.usedHeapBytes),
    heap_total_kib: KiB(main.totalHeapBytes),
    external_kib: KiB(main.externalBytes),
    v8_malloced_kib: KiB(main.mallocedBytes),
    vcpu_heap_used_kib: KiB(vcpu.usedHeapBytes),
    vcpu_heap_total_kib: KiB(vcpu.totalHeapBytes),
    vcpu_external_kib: KiB(vcpu.externalBytes),
    vcpu_v8_malloced_kib: KiB(vcpu.mallocedBytes),
    ...(c === undefined ? {} : {
      malloc_in_use_kib: KiB(c.inUseBytes),
      malloc_free_kib: KiB(c.freeBytes),
      malloc_mmapped_kib: KiB(c.mmappedBytes),
    }),
    fds: fs.readdirSync('/proc/self/fd').length,
    threads: proc.threads,
    // V8's own collections so far (forced ones not counted), per thread.
    scavenges: main.scavenges,
    mark_compacts: main.markCompacts,
    vcpu_scavenges: vcpu.scavenges,
    vcpu_mark_compacts: vcpu.markCompacts,
    ...(natural === undefined ? {} : {
      rss_anon_before_gc_kib: natural.anon,
      heap_used_before_gc_kib: KiB(natural.main.usedHeapBytes),
      vcpu_heap_used_before_gc_kib: KiB(natural.vcpu.usedHeapBytes),
      vcpu_heap_total_before_gc_kib: KiB(natural.vcpu.totalHeapBytes),
    }),
  };
}

/** Every metric of a sample (drift reports each); the verdict judges those in FLAT_BOUNDS. */
const METRICS = ['rss_kib', 'rss_anon_kib', 'rss_file_kib', 'rss_shmem_kib', 'heap_used_kib', 'heap_total_kib', 'external_kib', 'v8_malloced_kib', 'vcpu_heap_used_kib', 'vcpu_heap_total_kib', 'vcpu_external_kib', 'vcpu_v8_malloced_kib', 'malloc_in_use_kib', 'malloc_free_kib', 'malloc_mmapped_kib', 'fds', 'threads', 'rss_anon_before_gc_kib', 'heap_used_before_gc_kib', 'vcpu_heap_used_before_gc_kib', 'vcpu_heap_total_before_gc_kib'];

/** max − min of each metric over `samples` (metrics the samples lack are left out). */
function drift(samples) {
  const out = {};
  for (const m of METRICS) {
    const values = samples.map((s) => s[m]).filter((v) => typeof v === 'number');
    if (values.length > 0) out[m] = Math.max(...values) - Math.min(...values);
  }
  return out;
}

async function buildMachine(consoleBytes) {
  const guest = assembleGuest(GUEST_SOURCE, { cacheDir: null });
  return createMachine(
    {
      arch: 'x86_64',
      memory: [
        { name: 'ram', guestPhysAddr: 0, size: RAM_BYTES },
        { name: 'mmio-ram', guestPhysAddr: MMIO_RAM_BASE, size: MMIO_RAM_BYTES, kvmMap: false, confReported: false },
      ],
      cpus: 1,
      devices: [uart8250(), exitDevice()],
      unclaimed: 'error',
      boot: {
        kind: 'flat',
        mode: 'long',
        cpl: 0,
        image: guest.bytes,
        loadAddress: guest.loadAddress,
        entry: guest.symbols.get('_start') ?? guest.loadAddress,
        mapBytes: IDENTITY_MAP_BYTES,
        registers: { rdi: MMIO_RAM_BASE },
      },
    },
    { console: (bytes) => (consoleBytes.count += bytes.length) },
  );
}

/**
 * @param {{ exits: number, slice: number, gc?: boolean, trim?: boolean }} options
 * @param {(line: string) => void} progress  human progress (silent in --json)
 * @param {(sample: object) => void} emit  every sample as it is taken
 */
async function runSoak(options, progress = () => {}, emit = () => {}) {
  const consoleBytes = { count: 0 };
  const machine = await buildMachine(consoleBytes);
  const samples = [];
  /** Resident KiB by mapping group at each sample (lib/smaps.js), by exits. */
  const mappings = new Map();
  const started = process.hrtime.bigint();
  try {
    const take = async (exits, sliceNs) => {
      const s = { exits, ...(await sampleProcess(machine, options)), ...(sliceNs !== undefined ? { slice_ns_per_exit: Math.round(sliceNs) } : {}) };
      samples.push(s);
      mappings.set(exits, readRssByMapping());
      emit(s);
      progress(`  ${String(exits).padStart(10)} exits: ${sampleLine(s)}${sliceNs !== undefined ? `, ${(sliceNs / 1000).toFixed(1)} µs/exit` : ''}`);
    };
    await take(0);
    let done = 0;
    while (done < options.exits) {
      const slice = Math.min(options.slice, options.exits - done);
      const t0 = process.hrtime.bigint();
      const stop = await machine.run({ maxExits: slice });
      const ns = Number(process.hrtime.bigint() - t0);
      if (stop.reason !== 'exit-limit') throw new BenchError(`slice at ${done} exits: the machine stopped with '${stop.reason}'${stop.reason === 'error' ? `: ${stop.error.message}` : ''}, expected 'exit-limit'`);
      done += slice;
      await take(done, ns / slice);
    }
    const counts = machine.exitCounts()[0];
    // Every exit went where the guest sent it: the devices saw the loop, the console its bytes.
    const io = counts.IO ?? 0;
    const mmio = counts.MMIO ?? 0;
    if (io + mmio !== done) throw new BenchError(`the vCPU counted ${io} IO + ${mmio} MMIO exits, expected ${done}`);
    if (Math.abs(mmio - io) > EXITS_PER_ITERATION) throw new BenchError(`IO (${io}) and MMIO (${mmio}) exits should be about even (2 of each per loop iteration)`);
    const iterations = readExitDeviceState(machine.deviceState.get('exit-device@0xf4')).result;
    if (Math.abs(consoleBytes.count - iterations) > 1) throw new BenchError(`the console received ${consoleBytes.count} bytes, but the guest finished ${iterations} loop iterations`);
    const slices = samples.slice(1);
    return {
      exits: done,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      exit_counts: { IO: io, MMIO: mmio },
      console_bytes: consoleBytes.count,
      baseline: samples[0],
      // Drift over the slices (after the first one, which also warms up the JIT and the buses).
      drift: drift(slices.length > 1 ? slices.slice(1) : slices),
      drift_including_first_slice: drift(slices),
      // Which mappings the resident memory grew or shrank in: over the second half (the verdict's
      // window) and from the end of the first slice on.
      rss_growth_by_mapping: {
        second_half: rssGrowth(mappings.get(secondHalf(samples)[0].exits), mappings.get(done)),
        after_first_slice: rssGrowth(mappings.get(samples[1].exits), mappings.get(done)),
      },
      rss_by_mapping_at_end: mappings.get(done),
      gc: options.gc === true,
      trim: options.trim === true,
      verdict: { ...soakVerdict(samples), collected: options.gc === true },
    };
  } finally {
    await machine.close();
  }
}

/** A sample for a human: RSS (anon/file), each heap (the vCPU's before → after GC with --gc), its GC counts, the C heap, fds, threads. */
function sampleLine(s) {
  const malloc = s.malloc_in_use_kib === undefined ? '' : `, malloc ${s.malloc_in_use_kib} in use/${s.malloc_free_kib} free/${s.malloc_mmapped_kib} mmapped`;
  const before = s.vcpu_heap_used_before_gc_kib === undefined ? '' : `${s.vcpu_heap_used_before_gc_kib}→`;
  return `RSS ${s.rss_kib} KiB (anon ${s.rss_anon_kib}, file ${s.rss_file_kib}), heap ${s.heap_used_kib}/${s.heap_total_kib}, vCPU heap ${before}${s.vcpu_heap_used_kib}/${s.vcpu_heap_total_kib} (GCs ${s.vcpu_scavenges} minor, ${s.vcpu_mark_compacts} major), external ${s.external_kib}+${s.vcpu_external_kib}${malloc}, fds ${s.fds}, threads ${s.threads}`;
}

module.exports = { description, runSoak, sampleProcess, drift, sampleLine, METRICS };

'use strict';
/**
 * `soak`: one x86 machine (createMachine: a vCPU worker thread, real devices) runs a guest that
 * loops over four exits — a PIO write to the exit device, an MMIO write and read of RAM served
 * over MMIO, a UART byte — for `--exits` exits in slices of `--slice` (run({ maxExits })). After
 * each slice it samples the process: RSS, V8 heap, open file descriptors and threads. The target
 * is flat: nothing the framework does per exit may accumulate. The figures are a measurement;
 * the run fails (BenchError) only when the machine did not do the exits it was asked for.
 */
const fs = require('node:fs');
const path = require('node:path');
const { createMachine } = require('@kvmts/core');
const { assembleGuest, exitDevice, uart8250, readExitDeviceState } = require('@kvmts/arch-x86');
const { BenchError } = require('./lib/errors');

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

/**
 * A full garbage collection of this (the main) thread's heap, so heap figures compare live
 * objects rather than how far V8 happened to get collecting. `node --expose-gc` is not needed:
 * the flag can be set at run time and `gc` fetched from a fresh context.
 */
const collectGarbage = (() => {
  require('node:v8').setFlagsFromString('--expose-gc');
  return require('node:vm').runInNewContext('gc');
})();

/** One sample of this process, after a full GC: what would grow if something leaked per exit. */
function sampleProcess() {
  collectGarbage();
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
  const mem = process.memoryUsage();
  return {
    rss_kib: Math.round(mem.rss / 1024),
    heap_used_kib: Math.round(mem.heapUsed / 1024),
    external_kib: Math.round(mem.external / 1024),
    fds: fs.readdirSync('/proc/self/fd').length,
    threads: field('Threads'),
  };
}

const METRICS = ['rss_kib', 'heap_used_kib', 'external_kib', 'fds', 'threads'];

/** max − min of each metric over `samples`. */
function drift(samples) {
  const out = {};
  for (const m of METRICS) {
    const values = samples.map((s) => s[m]);
    out[m] = Math.max(...values) - Math.min(...values);
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
 * @param {{ exits: number, slice: number }} options
 * @param {(line: string) => void} progress  human progress (silent in --json)
 * @param {(sample: object) => void} emit  every sample as it is taken
 */
async function runSoak(options, progress = () => {}, emit = () => {}) {
  const consoleBytes = { count: 0 };
  const machine = await buildMachine(consoleBytes);
  const samples = [];
  const started = process.hrtime.bigint();
  try {
    const take = (exits, sliceNs) => {
      const s = { exits, ...sampleProcess(), ...(sliceNs !== undefined ? { slice_ns_per_exit: Math.round(sliceNs) } : {}) };
      samples.push(s);
      emit(s);
      progress(`  ${String(exits).padStart(10)} exits: RSS ${s.rss_kib} KiB, heap ${s.heap_used_kib} KiB, external ${s.external_kib} KiB, fds ${s.fds}, threads ${s.threads}${sliceNs !== undefined ? `, ${(sliceNs / 1000).toFixed(1)} µs/exit` : ''}`);
    };
    take(0);
    let done = 0;
    while (done < options.exits) {
      const slice = Math.min(options.slice, options.exits - done);
      const t0 = process.hrtime.bigint();
      const stop = await machine.run({ maxExits: slice });
      const ns = Number(process.hrtime.bigint() - t0);
      if (stop.reason !== 'exit-limit') throw new BenchError(`slice at ${done} exits: the machine stopped with '${stop.reason}'${stop.reason === 'error' ? `: ${stop.error.message}` : ''}, expected 'exit-limit'`);
      done += slice;
      take(done, ns / slice);
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
    };
  } finally {
    await machine.close();
  }
}

module.exports = { description, runSoak, sampleProcess, drift };

'use strict';
/**
 * What one kvmts warm restore issues to the kernel, recorded from the real code path so the C
 * baseline (baseline-restore.c) can do exactly the same: every ioctl on the VM and vCPU fds (the
 * request and the bytes passed) and every remap of guest RAM over a memory image, from
 * Machine.restore to the first guest exit.
 *
 * The main thread's calls are recorded here, by wrapping @kvmts/native's own functions (its index
 * re-exports them through getters, so core and the plugins reach the wrappers); the vCPU thread's
 * by restore-ioctl-hook.js, a plugin module loaded into that thread, which is told over the
 * BroadcastChannel CHANNEL when to record and hands its records back the same way. The batch path
 * (archOptions.batchStateSync) is not recorded: a restore that uses it fails here, by name.
 */
const path = require('node:path');
const { BroadcastChannel } = require('node:worker_threads');

const CHANNEL = 'kvmts-restore-recorder';
const HOOK = path.join(__dirname, '..', 'restore-ioctl-hook.js');
const NATIVE_DIST = path.dirname(require.resolve('@kvmts/native'));

/** Targets of a record, as baseline-restore.c numbers them. */
const TARGET = Object.freeze({ vm: 0, vcpu: 1 });

/** One call's argument as recorded: a copy of the buffer passed (before the call), or the integer. */
function recordedArg(arg) {
  if (ArrayBuffer.isView(arg)) return { bytes: new Uint8Array(arg.buffer, arg.byteOffset, arg.byteLength).slice() };
  return { value: BigInt(arg ?? 0) };
}

/**
 * Wrap the ioctl entry points of the @kvmts/native in this thread so every call is passed to
 * `onIoctl(fd, request, arg)` first, and the batch entry point refused; returns the undo.
 */
function wrapNativeIoctls(onIoctl, onRemap) {
  const fd = require(path.join(NATIVE_DIST, 'fd.js'));
  const batch = require(path.join(NATIVE_DIST, 'batch.js'));
  const mapping = require(path.join(NATIVE_DIST, 'mapping.js'));
  const saved = { ioctl: fd.ioctl, ioctlErrno: fd.ioctlErrno, runIoctlBatch: batch.runIoctlBatch, remapFile: mapping.remapFile };
  fd.ioctl = (f, request, arg) => (onIoctl(f, request, arg), saved.ioctl(f, request, arg));
  fd.ioctlErrno = (f, request, arg) => (onIoctl(f, request, arg), saved.ioctlErrno(f, request, arg));
  batch.runIoctlBatch = () => {
    throw new Error('restore-recorder: a batched ioctl run (archOptions.batchStateSync) is not recorded');
  };
  mapping.remapFile = (m, prot, flags, f, offset = 0) => (onRemap?.(m, prot, flags, f, offset), saved.remapFile(m, prot, flags, f, offset));
  return () => {
    fd.ioctl = saved.ioctl;
    fd.ioctlErrno = saved.ioctlErrno;
    batch.runIoctlBatch = saved.runIoctlBatch;
    mapping.remapFile = saved.remapFile;
  };
}

/**
 * Records, as baseline-restore.c reads them: per record u32 target, u32 request, u32 kind (0 an
 * integer, 1 a buffer), u32 size, then the u64 integer or the buffer padded to 8 bytes.
 * @param {{ target: number, request: number, bytes?: Uint8Array, value?: bigint }[]} records
 */
function serializeRecords(records) {
  const parts = [];
  for (const r of records) {
    const head = Buffer.alloc(16);
    head.writeUInt32LE(r.target, 0);
    head.writeUInt32LE(r.request >>> 0, 4);
    head.writeUInt32LE(r.bytes ? 1 : 0, 8);
    head.writeUInt32LE(r.bytes ? r.bytes.byteLength : 0, 12);
    parts.push(head);
    if (r.bytes) {
      const padded = Buffer.alloc((r.bytes.byteLength + 7) & ~7);
      padded.set(r.bytes);
      parts.push(padded);
    } else {
      const v = Buffer.alloc(8);
      v.writeBigUInt64LE(BigInt.asUintN(64, r.value));
      parts.push(v);
    }
  }
  return Buffer.concat(parts);
}

/** A machine config with the vCPU thread's recorder loaded (a plugin that registers nothing). */
function withRecorderHook(config) {
  return { ...config, plugins: [...(config.plugins ?? []), HOOK] };
}

/** Post `message` on the channel and wait for the first answer `accept` takes (or fail after `ms`). */
function ask(channel, message, accept, ms = 60_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`restore-recorder: no answer from the vCPU thread to '${message.cmd}'`)), ms);
    const done = (error, value) => {
      clearTimeout(timer);
      channel.onmessage = null;
      if (error) reject(error);
      else resolve(value);
    };
    channel.onmessage = ({ data }) => {
      if (accept(data)) done(undefined, data);
    };
    channel.postMessage(message);
  });
}

/**
 * Record one warm restore of `dir` into `machine` (made with withRecorderHook, one vCPU, restored
 * into before so what is memoised is): `machine.restore(dir, options)` then `run({ maxExits: 1 })`.
 * @returns {Promise<{ records: object[], remaps: object[], exit: object }>}
 *   records in issue order — the main thread's, then the vCPU thread's (a restore issues the VM's
 *   state before the vCPU's) —, the remaps (flags, offset, the region's size), how the run ended.
 */
async function recordRestore(machine, dir, options) {
  if (machine.vcpus.length !== 1) throw new Error(`restore-recorder: one vCPU only, the machine has ${machine.vcpus.length}`);
  const vmFd = machine.vm.fd;
  const vcpuFd = machine.vm.vcpu(0).fd;
  const targetOf = (fd, request) => {
    if (fd === vmFd) return TARGET.vm;
    if (fd === vcpuFd) return TARGET.vcpu;
    throw new Error(`restore-recorder: ioctl 0x${(request >>> 0).toString(16)} on fd ${fd}, neither the VM's (${vmFd}) nor the vCPU's (${vcpuFd})`);
  };
  const channel = new BroadcastChannel(CHANNEL);
  const main = [];
  const remaps = [];
  let undo;
  try {
    await ask(channel, { cmd: 'start' }, (d) => d.ev === 'started');
    undo = wrapNativeIoctls(
      (fd, request, arg) => main.push({ target: targetOf(fd, request), request, ...recordedArg(arg) }),
      (mapping, prot, flags, fd, offset) => remaps.push({ size: mapping.length, prot, flags, offset }),
    );
    await machine.restore(dir, options);
    undo();
    undo = undefined;
    const exit = await machine.run({ maxExits: 1 });
    const taken = await ask(channel, { cmd: 'take' }, (d) => d.ev === 'records');
    const thread = taken.records.map((r) => ({ ...r, target: targetOf(r.fd, r.request) }));
    return { records: [...main, ...thread], remaps, exit };
  } finally {
    undo?.();
    channel.postMessage({ cmd: 'unpatch' });
    channel.close();
  }
}

/**
 * The records' ioctl names in issue order (KVM_SET_CLOCK, …), from core's and arch-x86's ioctl
 * tables; a request neither knows is shown in hex. Required here, not at load: the vCPU-thread hook
 * loads this module too and needs none of it.
 */
function ioctlNames(records) {
  const { KvmIoctl } = require('@kvmts/core');
  const { X86Ioctl } = require('@kvmts/arch-x86');
  const names = new Map();
  for (const table of [KvmIoctl, X86Ioctl]) for (const [name, request] of Object.entries(table)) if (!names.has(request >>> 0)) names.set(request >>> 0, `KVM_${name}`);
  return records.map((r) => names.get(r.request >>> 0) ?? `0x${(r.request >>> 0).toString(16)}`);
}

module.exports = { CHANNEL, TARGET, HOOK, wrapNativeIoctls, recordedArg, serializeRecords, withRecorderHook, recordRestore, ioctlNames };

'use strict';
/**
 * restore-profile.js's probe inside the vCPU threads: a kvmts plugin module (config.plugins) that
 * registers nothing and, loaded in a vCPU worker, wraps the steps of the worker's part of a
 * restore — the real functions of core and arch-x86, timed from outside:
 *
 *   delivery            the main thread's postMessage → the worker's handler (clone + wake-up)
 *   threadContextFromData, takeOverFrom (X86StateSync.load, pushDirty, push <group> …),
 *   restoreLocalDeviceStates, restoreTicks (the rest of restoreVcpuState)
 *
 * Each restoreVcpuState sends its steps (ms) and the absolute time it returned on the
 * BroadcastChannel 'kvmts-restore-profile'; the main thread adds the reply's delivery.
 */
const path = require('node:path');
const { isMainThread, BroadcastChannel } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');

const now = () => performance.timeOrigin + performance.now();

function register() {}

if (!isMainThread) {
  const CORE = path.dirname(require.resolve('@kvmts/core'));
  const core = require('@kvmts/core');
  const x86 = require('@kvmts/arch-x86');
  const vcpuState = require(path.join(CORE, 'checkpoint/vcpu-state.js'));
  const deviceStates = require(path.join(CORE, 'checkpoint/device-states.js'));
  const channel = new BroadcastChannel('kvmts-restore-profile');
  channel.unref();
  /** Steps of the restore in progress (undefined outside one: a plain run is not timed). */
  let steps;
  const add = (step, ms) => steps && (steps[step] = (steps[step] ?? 0) + ms);
  const wrap = (owner, name, step = () => name) => {
    const original = owner[name];
    owner[name] = function (...a) {
      const t0 = now();
      try {
        return original.apply(this, a);
      } finally {
        add(step(a), now() - t0);
      }
    };
  };
  wrap(x86.X86ThreadContext, 'fromData', () => 'X86ThreadContext.fromData (decode + checks)');
  wrap(core.BaseKvmCPU.prototype, 'takeOverFrom', () => 'cpu.takeOverFrom (load + push)');
  wrap(x86.X86StateSync.prototype, 'load', () => '  X86StateSync.load (copy)');
  wrap(x86.X86StateSync.prototype, 'pushDirty', () => '  X86StateSync.pushDirty');
  wrap(x86.X86StateSync.prototype, 'push', (a) => `    push ${a[0]} (encode + ioctl)`);
  wrap(deviceStates, 'restoreLocalDeviceStates', () => 'restoreLocalDeviceStates');
  const restore = vcpuState.restoreVcpuState;
  vcpuState.restoreVcpuState = function (cpu, arch, devices, state) {
    const entered = now();
    steps = {};
    if (typeof state.postedAt === 'number') steps['delivery (clone + wake-up)'] = entered - state.postedAt;
    try {
      return restore.call(this, cpu, arch, devices, state);
    } finally {
      const left = now();
      steps['restoreVcpuState (all)'] = left - entered;
      channel.postMessage({ vcpu: cpu.id, steps, left });
      steps = undefined;
    }
  };
}

module.exports = { register };

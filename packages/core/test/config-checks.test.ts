/**
 * Top-level MachineConfig options (machine/config-checks.ts), run()'s maxExits, and the rule for
 * run() called again (machine/run-lifecycle.ts): each bad value is a ConfigError naming the
 * option; createMachine refuses them before any plugin loads or /dev/kvm opens (this host tier
 * has no /dev/kvm: reaching it would be a KvmUnavailableError, not a ConfigError).
 */
import { ConfigError, GuestError, LifecycleError, createMachine } from '@kvmts/core';
import { checkMachineOptions, checkMaxExits } from '../src/machine/config-checks';
import { runRefusal } from '../src/machine/run-lifecycle';

const base = { arch: 'x86_64', memory: '8M' };

describe('checkMachineOptions', () => {
  it.each([
    ['unclaimed', { unclaimed: 'panic' }, `unclaimed: must be 'ignore' or 'error', got "panic"`],
    ['stopTimeoutMs (negative)', { stopTimeoutMs: -1 }, 'stopTimeoutMs: must be a whole number of milliseconds 1..2147483647, got -1'],
    ['stopTimeoutMs (NaN)', { stopTimeoutMs: Number.NaN }, 'stopTimeoutMs: must be a whole number of milliseconds 1..2147483647, got NaN'],
    ['stopTimeoutMs (beyond a timer)', { stopTimeoutMs: 2 ** 31 }, 'stopTimeoutMs: must be a whole number of milliseconds 1..2147483647, got 2147483648'],
    ['stopTimeoutMs (a string)', { stopTimeoutMs: '100' }, 'stopTimeoutMs: must be a whole number of milliseconds 1..2147483647, got "100"'],
    ['kvmPath', { kvmPath: 3 }, 'kvmPath: must be a path, got 3'],
    ['devices', { devices: { type: 'uart8250' } }, 'devices: must be an array of DeviceSpec, got an object'],
    ['plugins', { plugins: 'my-plugin' }, 'plugins: must be an array of module names, got "my-plugin"'],
    ['plugins entry', { plugins: ['ok', 7] }, 'plugins[1]: must be a module name, got 7'],
    ['coalesced', { coalesced: [{ base: 0x3f8, size: 0, pio: true }] }, 'coalesced[0].size: must be an integer 1..2^32-1, got 0'],
    ['coalesced pio', { coalesced: [{ base: 0x3f8, size: 8 }] }, 'coalesced[0].pio: must be true (port I/O) or false (MMIO), got undefined'],
    ['arch', { arch: '' }, `arch: must be an architecture name such as 'x86_64', got ""`],
    ['memory', { memory: undefined }, "memory: is required: a size such as '64M' or a list of regions"],
  ])('%s', async (_, override, message) => {
    const config = { ...base, ...override };
    expect(() => checkMachineOptions(config)).toThrow(message);
    const e = await createMachine(config as never).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toBe(message);
  });

  it('a config that is not an object', () => {
    expect(() => checkMachineOptions(null)).toThrow('config: must be a MachineConfig object, got null');
  });

  it('accepts every option at its documented values', () => {
    expect(() => checkMachineOptions({ ...base, unclaimed: 'error', stopTimeoutMs: 1, kvmPath: '/dev/kvm', devices: [], plugins: ['x'], coalesced: [{ base: 0, size: 1, pio: false }] })).not.toThrow();
  });
});

describe('maxExits', () => {
  it.each([0, -1, 1.5, Number.NaN, '10', 2 ** 53])('%p is a ConfigError naming maxExits', (v) => {
    expect(() => checkMaxExits(v)).toThrow(ConfigError);
    expect(() => checkMaxExits(v)).toThrow(/^maxExits: must be a positive whole number of exits/);
  });

  it('absent or Infinity means no limit; a count passes through', () => {
    expect([checkMaxExits(undefined), checkMaxExits(Infinity), checkMaxExits(7)]).toEqual([undefined, undefined, 7]);
  });
});

describe('run() called again', () => {
  const idle = { closed: false, running: false, lastExit: undefined };
  const error = new GuestError('triple-fault', 0, 'shutdown', '');

  it.each([
    ['after close()', { ...idle, closed: true }, 'machine: cannot run while closed'],
    ['while a run is in flight', { ...idle, running: true }, 'machine: cannot run (one run at a time: await the first, or stop() it) while running'],
    ['after a power-off', { ...idle, lastExit: { reason: 'poweroff' } }, 'machine: cannot run (restore a checkpoint or create a new machine) while powered off'],
    ['after an error', { ...idle, lastExit: { reason: 'error', error } }, 'machine: cannot run (close it; its guest state is what the failure left) while failed: GuestError'],
  ])('%s: LifecycleError', (_, state, message) => {
    const refusal = runRefusal(state);
    expect(refusal).toBeInstanceOf(LifecycleError);
    expect(refusal?.message).toBe(message);
  });

  it.each(['stopped', 'exit-limit', 'halt', 'm5-exit', 'm5op-end', 'system-event'])('after a %s stop: it resumes', (reason) => {
    expect(runRefusal({ ...idle, lastExit: { reason } })).toBeUndefined();
  });

  it.each([
    [1, 'shut down'],
    [2, 'reset'],
    [3, 'crashed'],
  ])('after system event %d (the guest is gone): LifecycleError while %s', (event, phase) => {
    const refusal = runRefusal({ ...idle, lastExit: { reason: 'system-event', event } });
    expect(refusal).toBeInstanceOf(LifecycleError);
    expect(refusal?.message).toBe(`machine: cannot run (restore a checkpoint or create a new machine) while ${phase}`);
  });

  it('after a wake-up or suspend event: it resumes', () => {
    for (const event of [4, 5]) expect(runRefusal({ ...idle, lastExit: { reason: 'system-event', event } })).toBeUndefined();
  });
});

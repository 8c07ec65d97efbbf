/**
 * Machine switch hooks (cpu/switch-hooks.ts): plugins register factories under
 * MACHINE_SWITCH_HOOK; a machine gets the hooks its VM has, in registration order, and runs
 * each step in that order, the first failure stopping the rest. VcpuSwitch calls the machine's
 * hand-off before its vCPU switches out (a refusal leaves the vCPU its thread), after a
 * switch-out that failed, and after a takeover — with the vCPU's worker thread played by a
 * recorder of the calls it would get.
 */
import 'reflect-metadata';
import { container as rootContainer } from 'tsyringe';
import { ConfigError, MACHINE_SWITCH_HOOK, machineSwitchHooks, runSwitchHooks, type KvmVM, type MachineSwitchHook, type MachineSwitchHookFactory, type ThreadContext } from '@kvmts/core';
import { VcpuSwitch } from '../src/machine/vcpu-switch';
import type { VcpuController } from '../src/machine/vcpu-controller';

const vmA = { name: 'A' } as unknown as KvmVM;
const vmB = { name: 'B' } as unknown as KvmVM;
/** What a machine gives each factory besides its VM (the lines are not used here). */
const machine = { irqLines: { claim: async () => undefined, release: async () => undefined } };

function recorder(log: string[], name: string, fail?: 'switchingOut' | 'resuming'): MachineSwitchHook {
  return {
    name,
    switchingOut: () => {
      log.push(`${name}.switchingOut`);
      if (fail === 'switchingOut') throw new ConfigError(name, 'refuses');
    },
    resuming: async () => {
      log.push(`${name}.resuming`);
      if (fail === 'resuming') throw new ConfigError(name, 'refuses');
    },
  };
}

describe('machine switch hooks', () => {
  it('a machine gets the hooks of every registered factory that knows its VM, in registration order', () => {
    const c = rootContainer.createChildContainer();
    const log: string[] = [];
    const given: unknown[] = [];
    const onlyA: MachineSwitchHookFactory = (vm, m) => (given.push(m), vm === vmA ? recorder(log, 'gic') : undefined);
    const every: MachineSwitchHookFactory = () => recorder(log, 'clock');
    c.register(MACHINE_SWITCH_HOOK, { useValue: onlyA });
    c.register(MACHINE_SWITCH_HOOK, { useValue: every });
    expect(machineSwitchHooks(c, vmA, machine).map((h) => h.name)).toEqual(['gic', 'clock']);
    expect(machineSwitchHooks(c, vmB, machine).map((h) => h.name)).toEqual(['clock']);
    expect(machineSwitchHooks(rootContainer.createChildContainer(), vmA, machine)).toEqual([]);
    expect(given).toEqual([machine, machine]); // each factory gets the machine's context
  });

  it('runs a step of each hook in order; the first failure stops the rest and propagates', async () => {
    const log: string[] = [];
    await runSwitchHooks([recorder(log, 'a'), recorder(log, 'b')], 'switchingOut');
    await runSwitchHooks([recorder(log, 'a'), recorder(log, 'b')], 'resuming');
    expect(log).toEqual(['a.switchingOut', 'b.switchingOut', 'a.resuming', 'b.resuming']);
    log.length = 0;
    await expect(runSwitchHooks([recorder(log, 'a', 'resuming'), recorder(log, 'b')], 'resuming')).rejects.toThrow('a: refuses');
    expect(log).toEqual(['a.resuming']);
  });
});

/** The calls a vCPU's worker thread gets, recorded; 'switchOut' fails when told to. */
function vcpuRecorder(log: string[], failSwitchOut = false): VcpuController {
  return {
    id: 0,
    isRunning: false,
    loopActive: false,
    lastStop: undefined,
    hold: () => void log.push('vcpu.hold'),
    stop: async () => void log.push('vcpu.stop'),
    call: async (op: string) => {
      log.push(`vcpu.${op}`);
      if (op === 'switchOut' && failSwitchOut) throw new ConfigError('vcpu', 'switch-out failed');
      return op === 'switchOut' ? { arch: 'toy' } : undefined;
    },
  } as unknown as VcpuController;
}

const toyContext: ThreadContext = { arch: 'toy', toJSON: () => ({ arch: 'toy' }) };
const memory = { ranges: [], bytes: () => new Uint8Array(0) };

function vcpuSwitch(log: string[], vcpu: VcpuController, refuse = false): VcpuSwitch {
  return new VcpuSwitch(vcpu, {
    arch: { arch: 'toy', threadContextFromData: () => toyContext },
    memory,
    closed: () => false,
    stopTimeoutMs: 1000,
    vmState: {
      beforeSwitchOut: async () => {
        log.push('vm.beforeSwitchOut');
        if (refuse) throw new ConfigError('gic.its', 'cannot be muxed');
      },
      afterTakeOver: async () => void log.push('vm.afterTakeOver'),
    },
  });
}

describe('VcpuSwitch and the machine’s VM-wide state', () => {
  it('hands the state off after the drain and before the vCPU gives its thread up; takes it back after a takeover', async () => {
    const log: string[] = [];
    const a = vcpuSwitch(log, vcpuRecorder(log));
    await a.switchOut();
    expect(log).toEqual(['vcpu.hold', 'vcpu.stop', 'vcpu.drain', 'vm.beforeSwitchOut', 'vcpu.switchOut']);
    const b = vcpuSwitch(log, vcpuRecorder(log));
    await b.switchOut();
    log.length = 0;
    await b.takeOverFrom(a);
    expect(log).toEqual(['vcpu.setThreadContext', 'vm.afterTakeOver']);
  });

  it('a refused hand-off leaves the vCPU active with its thread', async () => {
    const log: string[] = [];
    const a = vcpuSwitch(log, vcpuRecorder(log), true);
    await expect(a.switchOut()).rejects.toThrow('gic.its: cannot be muxed');
    expect(a.switchState).toBe('active');
    expect(log).not.toContain('vcpu.switchOut');
  });

  it('a switch-out that fails after the hand-off gives the state back', async () => {
    const log: string[] = [];
    const a = vcpuSwitch(log, vcpuRecorder(log, true));
    await expect(a.switchOut()).rejects.toThrow('switch-out failed');
    expect(a.switchState).toBe('active');
    expect(log.slice(-3)).toEqual(['vm.beforeSwitchOut', 'vcpu.switchOut', 'vm.afterTakeOver']);
  });
});

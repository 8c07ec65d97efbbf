/**
 * The machine's hand-off of VM-wide state (machine/switch-hand-off.ts): vCPUs switching out at
 * the same time share one stop and one move out of the kernel; a hook's refusal stops nothing;
 * the state goes back only when the last vCPU is back (a failed switch-out of one vCPU does not
 * pull it back from under another that is still switching out).
 */
import { ConfigError, type MachineSwitchHook } from '@kvmts/core';
import { SwitchHandOff, type SwitchingVcpu } from '../src/machine/switch-hand-off';

function rig(refusal?: Error) {
  const log: string[] = [];
  const hook: MachineSwitchHook = {
    name: 'gic',
    refuseSwitchOut: () => refusal,
    switchingOut: async () => {
      log.push('gic.out');
      await new Promise((r) => setTimeout(r, 5));
    },
    resuming: () => void log.push('gic.back'),
  };
  const vcpus: { switchState: SwitchingVcpu['switchState']; switchingOut: boolean }[] = [
    { switchState: 'active', switchingOut: false },
    { switchState: 'active', switchingOut: false },
  ];
  const handOff = new SwitchHandOff(
    () => [hook],
    async () => void log.push('machine.stop'),
    () => vcpus,
  );
  return { log, vcpus, handOff };
}

describe('SwitchHandOff', () => {
  it('two vCPUs switching out together: one stop, one move out; back only after the last takes its thread back', async () => {
    const { log, vcpus, handOff } = rig();
    vcpus[0].switchingOut = vcpus[1].switchingOut = true;
    await Promise.all([handOff.beforeSwitchOut(), handOff.beforeSwitchOut()]);
    expect(log).toEqual(['machine.stop', 'gic.out']);
    for (const v of vcpus) Object.assign(v, { switchingOut: false, switchState: 'switched-out' });
    vcpus[0].switchState = 'active';
    await handOff.afterTakeOver(vcpus[0]);
    expect(log).toEqual(['machine.stop', 'gic.out']); // vCPU 1 is still out
    vcpus[1].switchState = 'active';
    await handOff.afterTakeOver(vcpus[1]);
    expect(log).toEqual(['machine.stop', 'gic.out', 'gic.back']);
    // A later switch-out moves the state out again.
    await handOff.beforeSwitchOut();
    expect(log.slice(3)).toEqual(['machine.stop', 'gic.out']);
  });

  it('a failed switch-out of one vCPU leaves the state out while another is still switching out', async () => {
    const { log, vcpus, handOff } = rig();
    vcpus[0].switchingOut = vcpus[1].switchingOut = true;
    await handOff.beforeSwitchOut();
    await handOff.afterTakeOver(vcpus[0]); // vCPU 0's thread refused to give its context
    expect(log).toEqual(['machine.stop', 'gic.out']);
  });

  it('a refusal is thrown before the machine stops, and nothing moves', async () => {
    const { log, handOff } = rig(new ConfigError('gic.its', 'the GIC has an ITS'));
    await expect(handOff.beforeSwitchOut()).rejects.toThrow('gic.its: the GIC has an ITS');
    expect(log).toEqual([]);
  });
});

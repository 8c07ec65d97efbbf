/**
 * A machine whose vCPUs all spin at CPL3 in long-mode-tests' `spin` loop until stopped: for
 * suites about the machine around the guest (threads, stop, heaps), not the guest itself.
 */
import { createMachine, type CreateMachineOptions, type Machine } from '@kvmts/core';
import { assembleGuest, exitDevice } from '@kvmts/arch-x86';

export function spinMachine(cpus: number, options?: CreateMachineOptions): Promise<Machine> {
  const tests = assembleGuest('long-mode-tests');
  return createMachine(
    {
      arch: 'x86_64',
      memory: '16M',
      cpus,
      devices: [exitDevice()],
      boot: { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: tests.symbols.get('spin')! },
    },
    options,
  );
}

/**
 * The PC PCI host built by the real device machinery (the arch plugin's registrations,
 * prepareDevices, attachDevices), seen from several vCPU threads: each thread gets its own
 * container, buses and device instances over the one shared state, as vCPU worker threads do.
 */
import { AddressBuses, attachDevices, createIsolatedContainer, prepareDevices, type AddressBus, type Device } from '@kvmts/core';
import type { DependencyContainer } from 'tsyringe';
import { pciHost, register, type X86PciHost, type X86PciHostOptions } from '../../src';
import { X86_PORT_IO_SPACE } from '../../src/address-spaces';

export interface PciHostThread {
  readonly buses: AddressBuses;
  readonly pio: AddressBus;
  /** The thread's host device instance (named 'pci'). */
  readonly host: X86PciHost;
}

/** `extra` registers more plugins (e.g. a third-party PCI function type) in the machine's container. */
export function pciHostMachine(options: X86PciHostOptions, extra?: (container: DependencyContainer) => void) {
  const container = createIsolatedContainer();
  register(container);
  extra?.(container);
  const devices = prepareDevices(container, [pciHost(options, 'pci')], [X86_PORT_IO_SPACE]);
  const thread = (vcpuId: number): PciHostThread => {
    const buses = new AddressBuses([X86_PORT_IO_SPACE]);
    const [host] = attachDevices(
      container.createChildContainer(),
      devices,
      (d) => ({ name: d.name, vcpuId, shared: d.shared, consoleWrite: () => undefined, requestPowerOff: () => undefined, setIrqLine: () => undefined }),
      buses,
    );
    return { buses, pio: buses.get('pio') as AddressBus, host: host as Device as X86PciHost };
  };
  return { devices, thread };
}

/**
 * Per-thread state of PCI functions in checkpoints: a function instance (and the Device serving
 * one of its BARs) that keeps state outside shared memory is saved through the PC PCI host's
 * local-state hooks, per thread, and restored into a fresh machine's threads; a host whose
 * functions share everything has no hooks (its checkpoints stay as they were); a part that
 * cannot be saved, or saved state that does not match the machine's functions, fails by name.
 * Built with the real device machinery (test/support/pci-host-threads.ts) and core's per-thread
 * checkpoint functions.
 */
import {
  CheckpointError,
  PCI_FUNCTION_PLUGIN,
  pciTestDevice,
  restoreLocalDeviceStates,
  saveLocalDeviceStates,
  type AccessSize,
  type Device,
  type HighWord,
  type PciFunctionPlugin,
  type PciFunctionSpec,
} from '@kvmts/core';
import { pciHostMachine } from './support/pci-host-threads';

interface WriteLogOptions {
  unsaveable?: boolean;
}

/**
 * A function that remembers, in each thread, the last value that thread wrote to its BAR0 (say a
 * per-CPU doorbell shadow), and whose BAR0 Device counts the reads it served in that thread.
 */
const writeLogPlugin: PciFunctionPlugin<WriteLogOptions> = {
  type: 'write-log',
  validate: () => undefined,
  describe: () => ({ vendorId: 0x1234, deviceId: 0x0002, classCode: 0xff0000, bars: [{ kind: 'io', size: 16 }] }),
  create(_ctx, options) {
    let lastWrite = 0;
    let reads = 0;
    const bar: Device & { saveLocalState(): unknown; restoreLocalState(s: unknown): void } = {
      name: 'write-log.bar0',
      read: (_o: number, _s: AccessSize, out: HighWord) => ((out.high = 0), (reads += 1), lastWrite),
      write: (_o: number, _s: AccessSize, value: number) => void (lastWrite = value),
      saveLocalState: () => ({ reads }),
      restoreLocalState: (s) => void (reads = (s as { reads: number }).reads),
    };
    return {
      bars: [bar],
      saveLocalState: () => ({ lastWrite }),
      restoreLocalState: (s) => void (lastWrite = (s as { lastWrite: number }).lastWrite),
      unsaveableReason: () => (options.unsaveable ? 'holds a host socket' : undefined),
    };
  },
};

// Inside the PC host's default I/O window (0xc000–0xffff).
const IO_BAR = 0xc000;
const ENABLE = 0x80000000;

function machine(functions: PciFunctionSpec[]) {
  const { devices, thread: hostThread } = pciHostMachine({ functions }, (c) => c.register(PCI_FUNCTION_PLUGIN, { useValue: writeLogPlugin }));
  const thread = (vcpuId: number) => {
    const { pio, host } = hostThread(vcpuId);
    const config = (reg: number, size: 2 | 4, value: number) => (pio.write(0xcf8, 4, (ENABLE | (3 << 11) | reg) >>> 0, 0), pio.write(0xcfc, size, value, 0));
    return {
      host,
      named: [{ name: 'pci', device: host }],
      /** Firmware's part: BAR0 at IO_BAR, I/O decode on (shared state: once for all threads). */
      enable: () => (config(0x10, 4, IO_BAR), config(0x04, 2, 0x1)),
      out: (value: number) => pio.write(IO_BAR, 4, value, 0),
      in: () => pio.read(IO_BAR, 4),
    };
  };
  return { devices, thread };
}

const writeLog = (options: WriteLogOptions = {}): PciFunctionSpec<WriteLogOptions> => ({ type: 'write-log', device: 3, name: 'log', options });

describe('per-thread state of PCI functions in checkpoints', () => {
  it('each thread saves its own function and BAR state, and a fresh machine restores it thread by thread', () => {
    const before = machine([writeLog()]);
    const [t0, t1] = [before.thread(0), before.thread(1)];
    t0.enable();
    t0.out(0x11);
    t1.out(0x22);
    t1.in();
    t1.in();
    const saved = [saveLocalDeviceStates(t0.named), saveLocalDeviceStates(t1.named)];
    expect(saved).toEqual([{ pci: { log: { lastWrite: 0x11 }, 'log.bar0': { reads: 0 } } }, { pci: { log: { lastWrite: 0x22 }, 'log.bar0': { reads: 2 } } }]);

    const after = machine([writeLog()]);
    const [r0, r1] = [after.thread(0), after.thread(1)];
    r0.enable();
    restoreLocalDeviceStates(r0.named, structuredClone(saved[0]));
    restoreLocalDeviceStates(r1.named, structuredClone(saved[1]));
    expect([r0.in(), r1.in()]).toEqual([0x11, 0x22]);
    expect(saveLocalDeviceStates(r1.named)).toEqual({ pci: { log: { lastWrite: 0x22 }, 'log.bar0': { reads: 3 } } });
  });

  it('a host whose functions keep everything in shared memory has no local-state hooks', () => {
    const host = machine([pciTestDevice({ device: 5 })]).thread(0).host;
    expect([host.saveLocalState, host.restoreLocalState, host.unsaveableReason]).toEqual([undefined, undefined, undefined]);
    expect(saveLocalDeviceStates([{ name: 'pci', device: host }])).toEqual({});
  });

  it('a function that cannot be saved fails the checkpoint naming itself and its reason', () => {
    const t = machine([writeLog({ unsaveable: true })]).thread(0);
    const attempt = () => saveLocalDeviceStates(t.named);
    expect(attempt).toThrow(CheckpointError);
    expect(attempt).toThrow("device 'pci': cannot be saved: PCI function part 'log': holds a host socket");
  });

  it('saved state for other functions, or none for these, is refused before any part is restored', () => {
    const t = machine([writeLog()]).thread(0);
    t.enable();
    t.out(0x33);
    const refuse = (state: unknown, message: string) => {
      const attempt = () => restoreLocalDeviceStates(t.named, { pci: state });
      expect(attempt).toThrow(CheckpointError);
      expect(attempt).toThrow(message);
      expect(t.in()).toBe(0x33); // untouched
    };
    refuse({ log: { lastWrite: 1 }, 'log.bar0': { reads: 0 }, 'other.bar1': {} }, "holds local state for PCI function part 'other.bar1', which this machine's functions do not keep");
    refuse({ log: { lastWrite: 1 } }, "PCI function part 'log.bar0' keeps local state, but the checkpoint holds none for it");
    refuse(7, "its PCI functions' local state is not an object");
  });
});

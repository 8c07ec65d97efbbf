/** Device-local checkpoint state per thread: saved by name, refused by name. */
import { CheckpointError, restoreLocalDeviceStates, saveLocalDeviceStates, type Device, type NamedDevice } from '@kvmts/core';

function device(extra: Partial<Device> = {}): Device {
  return { name: 'd', read: () => 0, write: () => undefined, ...extra };
}

function counter(start: number): Device & { count: number } {
  const d = {
    ...device(),
    count: start,
    saveLocalState: () => ({ count: d.count }),
    restoreLocalState: (s: unknown) => void (d.count = (s as { count: number }).count),
  };
  return d;
}

describe('device-local checkpoint state', () => {
  it('saves the state of devices that keep some, by name, and gives it back', () => {
    const a = counter(7);
    const devices: NamedDevice[] = [{ name: 'a', device: a }, { name: 'plain', device: device() }];
    const saved = saveLocalDeviceStates(devices);
    expect(saved).toEqual({ a: { count: 7 } });
    const b = counter(0);
    restoreLocalDeviceStates([{ name: 'a', device: b }, { name: 'plain', device: device() }], saved);
    expect(b.count).toBe(7);
  });

  it('a device that says it cannot be saved fails the save, naming it and its reason', () => {
    const e = (() => {
      try {
        saveLocalDeviceStates([{ name: 'tap0', device: device({ unsaveableReason: () => 'bound to a host TAP interface' }) }]);
      } catch (err) {
        return err as CheckpointError;
      }
      throw new Error('expected a CheckpointError');
    })();
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.code).toBe('not-saveable');
    expect(e.message).toBe("device 'tap0': cannot be saved: bound to a host TAP interface");
    expect(saveLocalDeviceStates([{ name: 'ok', device: device({ unsaveableReason: () => undefined }) }])).toEqual({});
  });

  it('refuses state for a device that does not take it, and no state for one that needs it', () => {
    expect(() => restoreLocalDeviceStates([{ name: 'plain', device: device() }], { plain: {} })).toThrow(/device 'plain': the checkpoint holds local state for it/);
    expect(() => restoreLocalDeviceStates([{ name: 'a', device: counter(0) }], {})).toThrow(/device 'a': keeps local state, but the checkpoint holds none/);
  });
});

/**
 * Third-party plugins: a device package loaded by module path into every vCPU thread through
 * the machine's own child container, using only @kvmts/core's public API.
 */
import * as path from 'node:path';
import { container as rootContainer } from 'tsyringe';
import { createMachine, ConfigError, DEVICE_PLUGIN } from '@kvmts/core';
import { assembleGuest } from '@kvmts/arch-x86';

const counterModule = path.resolve(__dirname, '../../core/test/fixtures/counter-device-plugin.js');

describeKvm('third-party plugins', () => {
  it('a device from another package serves exits in the vCPU thread and powers the machine off', async () => {
    const tests = assembleGuest('long-mode-tests');
    const m = await createMachine({
      arch: 'x86_64',
      memory: '8M',
      // pio_basic writes port 0x10 three times; the counter powers off on the third.
      devices: [{ plugin: counterModule, type: 'test-counter', name: 'counter', options: { port: 0x10, limit: 3 } }],
      boot: { kind: 'flat', mode: 'long', cpl: 3, image: tests.bytes, entry: tests.symbols.get('pio_basic')! },
    });
    try {
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 3 });
      expect(new Int32Array(m.deviceState.get('counter')!)[0]).toBe(3);
      // Registrations went into the machine's child container, not the process-wide root.
      expect(m.container.isRegistered(DEVICE_PLUGIN, false)).toBe(true);
      expect(rootContainer.isRegistered(DEVICE_PLUGIN, false)).toBe(false);
    } finally {
      await m.close();
    }
  });

  it('bad plugin options and unloadable plugin modules are ConfigErrors', async () => {
    await expect(createMachine({ arch: 'x86_64', memory: '8M', devices: [{ plugin: counterModule, type: 'test-counter', options: { port: 0x10 } }] })).rejects.toThrow(/test-counter: needs integer port/);
    await expect(createMachine({ arch: 'x86_64', memory: '8M', plugins: ['kvmts-no-such-plugin'] })).rejects.toThrow(ConfigError);
    await expect(createMachine({ arch: 'x86_64', memory: '8M', plugins: ['kvmts-no-such-plugin'] })).rejects.toThrow(/plugins\[kvmts-no-such-plugin\]: cannot load plugin module/);
  });
});

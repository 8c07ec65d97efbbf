import { describeKvm, makeRig, RecordingDevice } from './support/harness';

describeKvm('smoke', () => {
  it('runs a real-mode out + hlt', () => {
    // mov al, 0x42 ; out 0x10, al ; hlt
    const rig = makeRig({ kind: 'flat', mode: 'real', image: Uint8Array.from([0xb0, 0x42, 0xe6, 0x10, 0xf4]) });
    try {
      const dev = new RecordingDevice();
      const cpu = rig.cpus[0];
      cpu.pio.attach({ base: 0x10, size: 1 }, dev);
      expect(cpu.runLoop()).toBe('halted');
      expect(dev.writes).toEqual([{ offset: 0, size: 1, value: 0x42, high: 0 }]);
      expect(cpu.getRegs().rip).toBe(0x8005n);
    } finally {
      rig.close();
    }
  });
});

/**
 * The scratch device package serving a real guest: long-mode-tests' pio_basic writes port 0x10
 * (1, 2 and 4 bytes: the latch keeps the low byte, 0x77 last) and reads port 0x11 into r8.
 * Prints one JSON line: how the machine ended and r8.
 */
import { createMachine } from '@kvmts/core';
import { assembleGuest, exitDevice } from '@kvmts/arch-x86';

const guest = assembleGuest('long-mode-tests');
const machine = await createMachine({
  arch: 'x86_64',
  memory: '8M',
  devices: [{ plugin: 'scratch-device', type: 'scratch-register', name: 'scratch', options: { port: 0x10 } }, exitDevice()],
  boot: { kind: 'flat', mode: 'long', cpl: 3, image: guest.bytes, entry: guest.symbols.get('pio_basic')! },
});
try {
  const exit = await machine.run();
  const context = await machine.vcpus[0].call<{ regs: { r8: bigint } }>('threadContext');
  console.log(JSON.stringify({ exit, r8: `0x${context.regs.r8.toString(16)}` }));
} finally {
  await machine.close();
}

'use strict';
/**
 * restore-cold's child: a fresh Node process restores the checkpoint in argv[2] (its vCPU on a
 * worker thread, or on this thread when argv[3] is 'main') and runs it to the guest's first exit, printing CLOCK_MONOTONIC marks (process.hrtime.bigint(), the clock the
 * parent reads too) as one JSON line: scriptStart, modulesLoaded, restored, firstExit.
 */
const scriptStart = process.hrtime.bigint();
const { restoreMachine } = require('@kvmts/core');
require('@kvmts/arch-x86');
const modulesLoaded = process.hrtime.bigint();

async function main() {
  const machine = await restoreMachine(process.argv[2], { verifyMemory: false, console: () => undefined, vcpuThread: process.argv[3] === 'main' ? 'main' : 'worker' });
  const restored = process.hrtime.bigint();
  const r = await machine.run({ maxExits: 1 });
  const firstExit = process.hrtime.bigint();
  await machine.close();
  if (r.reason !== 'exit-limit') throw new Error(`the restored guest ended with ${JSON.stringify(r)}`);
  process.stdout.write(`${JSON.stringify({ scriptStart: String(scriptStart), modulesLoaded: String(modulesLoaded), restored: String(restored), firstExit: String(firstExit) })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exitCode = 1;
});

/**
 * Restoring a checkpoint into a machine that already exists (Machine.restore): the warm path.
 * Composing a machine — the VM, its memory, a worker thread per vCPU loading the kvmts modules —
 * is most of what restoreMachine costs; a machine made once (from the checkpoint's own config,
 * checkpointConfig(dir), or the config the saved machine was made from) can take any checkpoint
 * of that machine, as often as wanted, in the time it takes to put the state back:
 *
 *   1. check, touching nothing: the manifest and every section (checksums), the machine's shape
 *      (arch, vCPUs, memory regions, devices, arch options), the host CPU;
 *   2. map the base memory image over guest RAM in place (copy-on-write, no copy) and apply the
 *      incremental links; check the image when `verifyMemory` asks;
 *   3. the in-kernel state and devices' shared state, then every vCPU's ThreadContext and each
 *      thread's device-local state, on the vCPU threads that are already running.
 *
 * A failure in step 1 leaves the machine as it was. One after it (a damaged page found by
 * verification, a component refusing its state) leaves a mix of two states: the machine closes.
 */
import { CheckpointError, LifecycleError } from '../errors/errors';
import type { MachineConfig } from '../machine/machine-config';
import { CheckpointReader } from './checkpoint-files';
import { MachineRestore, type RestoreOptions } from './restore-machine';
import { fromTagged } from './tagged-json';
import type { MachinePartsWithVcpus } from './machine-parts';
import { shapeMismatch } from './restore-shape';

/** Options of Machine.restore: RestoreOptions without the host-side config (the machine has its own). */
export type RestoreIntoOptions = Omit<RestoreOptions, 'config'>;

/**
 * Put the checkpoint at `dir` into the stopped machine `parts` describe (see the file header).
 * `beforeChange` runs once every check has passed, right before the machine starts to change;
 * `onLateFailure` runs when a failure leaves the machine half-restored (the caller closes it).
 */
export async function restoreIntoMachine(parts: MachinePartsWithVcpus, dir: string, options: RestoreIntoOptions, onLateFailure: () => Promise<void>, beforeChange: () => void = () => undefined): Promise<void> {
  if (parts.vcpus.some((v) => v.isRunning)) throw new LifecycleError('machine', 'running', 'restore (after run() returns or after stop())');
  // A vCPU whose thread was terminated (a stop that timed out) cannot take the saved state: say so before anything changes.
  const dead = parts.vcpus.find((v) => !v.alive);
  if (dead) throw new LifecycleError(`vCPU ${dead.id}`, 'thread terminated', 'restore (create a new machine, or use restoreMachine(dir))');
  const reader = CheckpointReader.open(dir);
  const plan = new MachineRestore(reader, { ...options, arch: parts.config.arch });
  try {
    const mismatch = shapeMismatch(parts, reader.manifest);
    if (mismatch) throw new CheckpointError(dir, `does not fit this machine: ${mismatch}. Create the machine from checkpointConfig(dir), or restore with restoreMachine(dir)`, { code: 'incompatible' });
    plan.checkFits(parts);
    beforeChange();
    try {
      plan.remapMemory(parts);
      plan.loadMemory(parts);
      plan.restoreVmState(parts);
      await plan.afterVcpuThreads(parts);
    } catch (e) {
      await onLateFailure();
      throw e;
    }
  } finally {
    plan.close();
  }
}

/**
 * The machine config a checkpoint was saved from (without its boot payload, which the saved
 * state replaces): createMachine(checkpointConfig(dir)) makes a machine that restore(dir) fits —
 * a warm spare, made before the checkpoint is needed. `CheckpointError` as restoreMachine.
 */
export function checkpointConfig(dir: string): MachineConfig {
  const reader = CheckpointReader.open(dir);
  return fromTagged(reader.manifest.config, `${reader.dir} config`) as MachineConfig;
}

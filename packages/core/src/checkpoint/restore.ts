import { createMachine, type CreateMachineOptions, type Machine } from '../machine/machine';
import { CheckpointError } from '../errors/errors';
import { createIsolatedContainer } from '../di/container';
import { installedArchModule } from '../machine/arch-discovery';
import { archPluginFor, loadPlugins } from '../machine/plugin-registry';
import type { MachineConfig } from '../machine/machine-config';
import { CheckpointReader } from './checkpoint-files';
import { MachineRestore, checkRestoreOverrides, type RestoreOptions } from './restore-machine';

/**
 * Refuse a checkpoint of an architecture this host cannot restore before any VM is created (an
 * arm64 VM asked of x86 KVM fails in ways that say nothing about checkpoints): the plugin for
 * it must be there, support checkpoints, and run on this host's `process.arch`.
 */
function checkArchRestorable(config: MachineConfig, dir: string): void {
  const container = createIsolatedContainer();
  const installed = installedArchModule(config.arch);
  loadPlugins(container, [...(installed ? [installed.module] : []), ...(config.plugins ?? [])]);
  const plugin = archPluginFor(container, config.arch);
  if (!plugin) throw new CheckpointError(dir, `was made on ${config.arch}, and no plugin for ${config.arch} is installed here`, { code: 'arch' });
  if (!plugin.checkpoint) throw new CheckpointError(dir, `was made on ${config.arch}, whose plugin here cannot restore checkpoints (no ArchPlugin.checkpoint)`, { code: 'arch' });
  if (plugin.checkpoint.nodeArch !== process.arch) {
    throw new CheckpointError(dir, `was made on ${config.arch}, which runs on '${plugin.checkpoint.nodeArch}' hosts; this host is '${process.arch}'`, { code: 'arch' });
  }
}

/**
 * A machine from the checkpoint directory `dir`, ready to continue where the saved one stopped:
 * call run(). The config is the saved one (`options.config` may change the host-side settings);
 * `options.container` and `options.console` are as for createMachine. A checkpoint this host
 * cannot restore is a CheckpointError with a `code` saying why (docs/checkpoints.md).
 */
export async function restoreMachine(dir: string, options: RestoreOptions & Omit<CreateMachineOptions, 'restore'> = {}): Promise<Machine> {
  checkRestoreOverrides(options.config); // before a file is read
  const plan = new MachineRestore(CheckpointReader.open(dir), options);
  try {
    checkArchRestorable(plan.config, dir);
    const { container, console, onStep, vcpuThread, sliceMs, whileBootFilesLoad } = options;
    return await createMachine(plan.config, { container, console, onStep, vcpuThread, sliceMs, whileBootFilesLoad, restore: plan });
  } finally {
    plan.close();
  }
}

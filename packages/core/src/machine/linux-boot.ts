import { ConfigError } from '../errors/errors';
import { createIsolatedContainer } from '../di/container';
import type { LinuxBootProfile, LinuxBootRequest } from './arch-plugin';
import { loadMachinePlugins } from './machine';

/**
 * The machine `arch`'s plugin builds around a Linux kernel (its `linuxBoot` hook), with the
 * plugin found as createMachine finds it (the installed package declaring the arch, then
 * `plugins`). A plugin that offers no Linux boot is a ConfigError naming it.
 */
export function linuxBootProfile(arch: string, request: LinuxBootRequest, options: { plugins?: readonly string[] } = {}): LinuxBootProfile {
  const container = createIsolatedContainer();
  try {
    const { arch: plugin } = loadMachinePlugins(container, { arch, plugins: options.plugins });
    if (typeof plugin.linuxBoot !== 'function') {
      throw new ConfigError('arch', `the ${arch} plugin (${plugin.module}) cannot boot a Linux kernel: it has no linuxBoot hook`);
    }
    return plugin.linuxBoot(request);
  } finally {
    void container.dispose();
  }
}

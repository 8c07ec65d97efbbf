import { ConfigError } from '../errors/errors';
import { createIsolatedContainer } from '../di/container';
import { bootBytes, isBootFile, type BootBytes } from '../files/boot-file';
import type { LinuxBootFilesRequest, LinuxBootProfile } from './arch-plugin';
import { loadMachinePlugins } from './machine';

/**
 * The machine `arch`'s plugin builds around a Linux kernel (its `linuxBoot` hook), with the
 * plugin found as createMachine finds it (the installed package declaring the arch, then
 * `plugins`). A plugin that offers no Linux boot is a ConfigError naming it.
 */
export function linuxBootProfile(arch: string, request: LinuxBootFilesRequest, options: { plugins?: readonly string[] } = {}): LinuxBootProfile {
  const container = createIsolatedContainer();
  try {
    const { arch: plugin } = loadMachinePlugins(container, { arch, plugins: options.plugins });
    if (typeof plugin.linuxBoot !== 'function') {
      throw new ConfigError('arch', `the ${arch} plugin (${plugin.module}) cannot boot a Linux kernel: it has no linuxBoot hook`);
    }
    // A plugin that places BootFiles itself reads them straight into guest RAM; for the
    // others they are read here, and handed back for the caller to release.
    if (typeof plugin.linuxBootFromFiles === 'function') return plugin.linuxBootFromFiles(request);
    const readInputs: Uint8Array[] = [];
    const inMemory = (b: BootBytes): Uint8Array => {
      if (!isBootFile(b)) return b;
      const bytes = bootBytes(b);
      readInputs.push(bytes);
      return bytes;
    };
    const kernel = inMemory(request.kernel);
    const initrd = request.initrd === undefined ? undefined : inMemory(request.initrd);
    const { initrd: _file, ...rest } = request;
    const profile = plugin.linuxBoot({ ...rest, kernel, ...(initrd ? { initrd } : {}) });
    return readInputs.length > 0 ? { ...profile, readInputs } : profile;
  } finally {
    void container.dispose();
  }
}

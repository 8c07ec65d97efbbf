import type { DependencyContainer } from 'tsyringe';
import { ARCH_PLUGIN, DEVICE_PLUGIN } from '../di/tokens';
import { ConfigError } from '../errors/errors';
import type { ArchPlugin, PluginModule } from './arch-plugin';
import type { DevicePlugin } from './device-plugin';

/** Arch name → module that registers it, for the architectures kvmts ships. */
export const BUILTIN_ARCH_MODULES: Readonly<Record<string, string>> = {
  x86_64: '@kvmts/arch-x86',
};

/**
 * Load plugin modules and let each register into `container`. A module is a package name or
 * an absolute path; it must export `register(container)`.
 */
export function loadPlugins(container: DependencyContainer, modules: readonly string[]): void {
  for (const m of modules) {
    let mod: Partial<PluginModule>;
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      mod = require(m) as Partial<PluginModule>;
    } catch (e) {
      throw new ConfigError(`plugins[${m}]`, `cannot load plugin module: ${(e as Error).message.split('\n')[0]}`);
    }
    if (typeof mod.register !== 'function') throw new ConfigError(`plugins[${m}]`, 'module does not export register(container)');
    mod.register(container);
  }
}

function all<T>(container: DependencyContainer, token: symbol): T[] {
  return container.isRegistered(token, true) ? container.resolveAll<T>(token) : [];
}

export function findArchPlugin(container: DependencyContainer, arch: string): ArchPlugin {
  const plugins = all<ArchPlugin>(container, ARCH_PLUGIN);
  const p = plugins.find((x) => x.arch === arch);
  if (!p) throw new ConfigError('arch', `no plugin for architecture '${arch}' (registered: ${plugins.map((x) => x.arch).join(', ') || 'none'})`);
  return p;
}

export function findDevicePlugin(container: DependencyContainer, type: string): DevicePlugin {
  const plugins = all<DevicePlugin>(container, DEVICE_PLUGIN);
  const p = plugins.find((x) => x.type === type);
  if (!p) throw new ConfigError(`devices[${type}]`, `no device plugin of type '${type}' (registered: ${plugins.map((x) => x.type).join(', ') || 'none'})`);
  return p;
}

import * as path from 'node:path';
import type { DependencyContainer } from 'tsyringe';
import { ARCH_PLUGIN, DEVICE_PLUGIN } from '../di/tokens';
import { resolveAllOrNone } from '../di/container';
import { ConfigError } from '../errors/errors';
import type { ArchPlugin, PluginModule } from './arch-plugin';
import type { DevicePlugin } from './device-plugin';

/**
 * require() a plugin module: from core's own location first (where npm puts a plugin installed
 * beside core), then from the working directory (a program's own dependency that core cannot
 * see, as with pnpm's strict layout). Every thread resolves the same way.
 */
function requirePlugin(m: string): Partial<PluginModule> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require(m) as Partial<PluginModule>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND' || path.isAbsolute(m)) throw e;
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require(require.resolve(m, { paths: [process.cwd()] })) as Partial<PluginModule>;
  }
}

/**
 * Load plugin modules and let each register into `container`. A module is a package name or
 * an absolute path; it must export `register(container)`.
 */
export function loadPlugins(container: DependencyContainer, modules: readonly string[]): void {
  for (const m of modules) {
    let mod: Partial<PluginModule>;
    try {
      mod = requirePlugin(m);
    } catch (e) {
      throw new ConfigError(`plugins[${m}]`, `cannot load plugin module: ${(e as Error).message.split('\n')[0]}`);
    }
    if (typeof mod.register !== 'function') throw new ConfigError(`plugins[${m}]`, 'module does not export register(container)');
    mod.register(container);
  }
}

/** The arch plugin registered for `arch` (the last one, when several are), or undefined. */
export function archPluginFor(container: DependencyContainer, arch: string): ArchPlugin | undefined {
  return resolveAllOrNone<ArchPlugin>(container, ARCH_PLUGIN).filter((x) => x.arch === arch).pop();
}

/** Architectures registered in `container`. */
export function registeredArchs(container: DependencyContainer): string[] {
  return resolveAllOrNone<ArchPlugin>(container, ARCH_PLUGIN).map((x) => x.arch);
}

export function findArchPlugin(container: DependencyContainer, arch: string): ArchPlugin {
  const p = archPluginFor(container, arch);
  if (!p) throw new ConfigError('arch', `no plugin for architecture '${arch}' (registered: ${registeredArchs(container).join(', ') || 'none'})`);
  return p;
}

/**
 * The device plugin for `type`. The last registration wins, so a plugin module loaded after
 * the one that ships a device type replaces it (a test double, a patched device).
 */
export function findDevicePlugin(container: DependencyContainer, type: string): DevicePlugin {
  const plugins = resolveAllOrNone<DevicePlugin>(container, DEVICE_PLUGIN);
  const p = plugins.filter((x) => x.type === type).pop();
  if (!p) throw new ConfigError(`devices[${type}]`, `no device plugin of type '${type}' (registered: ${[...new Set(plugins.map((x) => x.type))].join(', ') || 'none'})`);
  return p;
}

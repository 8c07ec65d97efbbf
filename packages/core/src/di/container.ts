import { container as globalRoot, type DependencyContainer } from 'tsyringe';

/**
 * A container with no parent. tsyringe exports only its global root; registrations there leak
 * between every machine of the process (and a lookup that misses in a child falls through to
 * it), so kvmts never uses it. Its class is not exported either, so a fresh root is made with
 * the root's own constructor, which takes an optional parent (tsyringe 4.x).
 */
export function createIsolatedContainer(): DependencyContainer {
  const Root = globalRoot.constructor as new (parent?: DependencyContainer) => DependencyContainer;
  return new Root(undefined);
}

/** The container a machine composes into: a child of `parent` when given, else isolated. */
export function createMachineContainer(parent?: DependencyContainer): DependencyContainer {
  return (parent ?? createIsolatedContainer()).createChildContainer();
}

/** All registrations of a multi-token, oldest first; none → []. */
export function resolveAllOrNone<T>(container: DependencyContainer, token: symbol): T[] {
  return container.isRegistered(token, true) ? container.resolveAll<T>(token) : [];
}

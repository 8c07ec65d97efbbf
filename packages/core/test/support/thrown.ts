import { CheckpointError } from '@kvmts/core';

/** The CheckpointError `fn` throws (anything else is rethrown; no throw fails the test). */
export function thrown(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CheckpointError) return e;
    throw e;
  }
  throw new Error('expected a CheckpointError');
}

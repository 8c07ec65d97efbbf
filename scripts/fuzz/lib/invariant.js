'use strict';
/**
 * A target's own check failed: the code under test returned, but into a state it must never
 * reach (a ring holding more than its capacity, a register reading back wider than its access).
 * Deliberately not a KvmtsError: it is a finding, never an accepted outcome.
 */
class InvariantViolation extends Error {
  constructor(message) {
    super(message);
    this.name = 'InvariantViolation';
  }
}

/** Throw an InvariantViolation saying `message` unless `condition`. */
function invariant(condition, message) {
  if (!condition) throw new InvariantViolation(typeof message === 'function' ? message() : message);
}

module.exports = { InvariantViolation, invariant };

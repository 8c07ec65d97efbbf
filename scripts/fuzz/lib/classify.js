'use strict';
/**
 * What one case's outcome means. A target's execute() may return (the input was accepted) or
 * throw a KvmtsError subclass (a typed rejection: ConfigError, GuestError, …): both pass. Anything
 * else thrown — TypeError, RangeError, a plain Error, a non-Error — is an untyped-error finding;
 * an InvariantViolation is an invariant finding. (Hangs are found by the runner's watchdog.)
 */
const { KvmtsError } = require('@kvmts/core');
const { InvariantViolation } = require('./invariant');

/** @returns {undefined | { kind: 'untyped' | 'invariant', error: { name: string, message: string, stack: string } }} */
function classify(thrown) {
  if (thrown === undefined) return undefined;
  if (thrown instanceof KvmtsError) return undefined;
  const kind = thrown instanceof InvariantViolation ? 'invariant' : 'untyped';
  if (thrown instanceof Error) {
    const stack = (thrown.stack ?? '').split('\n').slice(1, 6).map((l) => l.trim()).join('\n');
    return { kind, error: { name: thrown.name, message: String(thrown.message).slice(0, 500), stack } };
  }
  return { kind, error: { name: typeof thrown, message: String(thrown).slice(0, 500), stack: '' } };
}

/**
 * Findings with the same signature are one bug: for an untyped error its name and throw site
 * (top frame); otherwise kind, name, top frame and the message's shape — the location a target's invariants name (a leading "op 3 (read): ", a trailing "[at /a/b]") and
 * quoted strings, numbers and hex values taken out.
 */
function signature(finding) {
  const frame = (finding.error.stack.split('\n')[0] ?? '').replace(/:\d+:\d+\)?$/, '');
  // An untyped error is one bug per throw site, whatever value its message quotes.
  if (finding.kind === 'untyped') return `${finding.kind}: ${finding.error.name} ${frame}`;
  const message = finding.error.message
    .replace(/^op \d+ \([^)]*\): /, '')
    .replace(/ \[at .*\]$/s, '')
    // The words before the first value: "cells", "reads back as", "the line is" …
    .match(/^[A-Za-z ,.-]*/)[0]
    .trim();
  return `${finding.kind}: ${finding.error.name}: ${message} ${frame}`;
}

module.exports = { classify, signature };

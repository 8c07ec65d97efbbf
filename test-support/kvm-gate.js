'use strict';
/**
 * The one gate for suites that need a real /dev/kvm (jest setupFile, so every package's tests
 * share it): `describeKvm` / `itKvm` run when /dev/kvm opens read-write; otherwise they skip
 * visibly — or, under KVMTS_REQUIRE_KVM=1 (set by `npm test` wherever KVM is usable, and always
 * inside the nested tiers), they become one failing test that names the reason, so a KVM suite
 * can never pass by skipping where KVM should be.
 */
const fs = require('fs');

function unavailableReason() {
  const path = process.env.KVMTS_KVM_PATH || '/dev/kvm';
  try {
    fs.closeSync(fs.openSync(path, 'r+'));
    return undefined;
  } catch (e) {
    return `${path} cannot be opened (${e.code || e.message})`;
  }
}

const reason = unavailableReason();
const required = process.env.KVMTS_REQUIRE_KVM === '1';
const failure = () => {
  throw new Error(`KVMTS_REQUIRE_KVM=1 but ${reason}`);
};

globalThis.kvmUnavailableReason = reason;
globalThis.describeKvm = (name, fn) => {
  if (reason === undefined) return describe(name, fn);
  if (required) return describe(name, () => it(`needs a usable KVM: ${reason}`, failure));
  return describe.skip(`${name} (skipped: ${reason})`, fn);
};
globalThis.itKvm = (name, fn, timeout) => {
  if (reason === undefined) return it(name, fn, timeout);
  if (required) return it(`${name} — needs a usable KVM: ${reason}`, failure);
  return it.skip(`${name} (skipped: ${reason})`, fn, timeout);
};

/** Globals from test-support/kvm-gate.js (a jest setupFile). */
declare function describeKvm(name: string, fn: () => void): void;
declare function itKvm(name: string, fn: jest.ProvidesCallback, timeout?: number): void;
/** Why /dev/kvm cannot be used here, or undefined when it can. */
declare var kvmUnavailableReason: string | undefined;

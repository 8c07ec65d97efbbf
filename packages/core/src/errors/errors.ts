/**
 * Typed errors. Every failure a user can cause or meet is one of these, never a bare Error,
 * and never a process.exit(): a VMM library must let its host program decide what to do.
 */
import { describeValue } from './describe-value';

/** Base class: `name` is set to the concrete class so logs and `instanceof` both work. */
export abstract class KvmtsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A KVM ioctl (or a syscall on a KVM object) failed. `op` names it, e.g. 'KVM_SET_SREGS'. */
export class KvmError extends KvmtsError {
  readonly op: string;
  readonly errno: number;
  readonly code: string;
  constructor(op: string, errno: number, code: string, detail?: string) {
    super(`${op} failed: ${code} (errno ${errno})${detail ? ` — ${detail}` : ''}`);
    this.op = op;
    this.errno = errno;
    this.code = code;
  }
}

/** /dev/kvm is missing, not permitted, or speaks the wrong API. The message says what to do. */
export class KvmUnavailableError extends KvmtsError {
  readonly reason: 'missing' | 'permission' | 'api-version' | 'other';
  constructor(reason: KvmUnavailableError['reason'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** The caller asked for something inconsistent (overlapping regions, bad sizes, unknown plugin…). */
export class ConfigError extends KvmtsError {
  /** Dotted path of the offending setting, e.g. 'memory[1].size'. */
  readonly setting: string;
  constructor(setting: string, message: string) {
    super(`${setting}: ${message}`);
    this.setting = setting;
  }
}

/** An operation was called in a lifecycle phase that does not allow it. */
export class LifecycleError extends KvmtsError {
  constructor(readonly object: string, readonly phase: string, readonly operation: string) {
    super(`${object}: cannot ${operation} while ${phase}`);
  }
}

/** What went wrong inside the guest, as a tag a program can switch on. */
export type GuestErrorKind =
  | 'triple-fault'
  | 'internal-error'
  | 'fail-entry'
  | 'unknown-exit'
  | 'unhandled-io'
  | 'device-error'
  /** the guest called m5 fail (details: code, delayNs) */
  | 'm5op-fail'
  /** an m5op with no handler and no built-in action (details: op, func) */
  | 'm5op-unhandled'
  /** an m5op's arguments name guest memory outside RAM or a file outside the output directory */
  | 'm5op-bad-argument';

/**
 * The guest did something the VMM cannot continue from. Carries the vCPU id, the exit that
 * caused it and a state dump taken at that moment (register text from the arch plugin).
 */
export class GuestError extends KvmtsError {
  constructor(
    readonly kind: GuestErrorKind,
    readonly vcpuId: number,
    message: string,
    readonly dump: string,
    readonly details: Readonly<Record<string, number | bigint | string>> = {},
  ) {
    super(`vCPU ${vcpuId}: ${message}`);
  }
}

/**
 * What kind of checkpoint failure, for a program to switch on:
 *  - format-version: written by another checkpoint format version;
 *  - arch: made for another architecture;
 *  - cpu-mismatch: this host's CPU cannot run the saved guest (the fingerprint differs);
 *  - corrupt: a file's checksum, size or content is wrong (the message names the section);
 *  - missing: the directory, its manifest or its sections file is not there;
 *  - not-saveable: a component of the machine cannot be saved (the message names it);
 *  - incompatible: saved state does not fit the part restoring it (a device layout version…);
 *  - io: reading or writing the files failed.
 */
export type CheckpointErrorCode = 'format-version' | 'arch' | 'cpu-mismatch' | 'corrupt' | 'missing' | 'not-saveable' | 'incompatible' | 'io';

/** A checkpoint could not be written or read. Nothing is left half-written. */
export class CheckpointError extends KvmtsError {
  readonly code: CheckpointErrorCode;
  constructor(readonly path: string, message: string, options?: { cause?: unknown; code?: CheckpointErrorCode }) {
    super(`${path}: ${message}`, options);
    this.code = options?.code ?? 'incompatible';
  }
}

/** An unexpected exception in a vCPU thread (usually a bug in a device or plugin), carried back to the caller. */
export class VcpuThreadError extends KvmtsError {
  constructor(readonly vcpuId: number, readonly originalName: string, message: string, options?: { cause?: unknown }) {
    super(`vCPU ${vcpuId} thread: ${originalName}: ${message}`, options);
  }
}

/**
 * A function the user handed to kvmts threw (or rejected): the console sink, an m5op handler, a
 * device hook. The run it interrupted ends with this error (through `run()`); `cause` is what the
 * callback threw and `callback` names it ('console', 'm5op handler (exit)', …).
 */
export class UserCallbackError extends KvmtsError {
  constructor(readonly callback: string, cause: unknown) {
    super(`${callback} threw: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : describeValue(cause)}`, { cause });
  }
}

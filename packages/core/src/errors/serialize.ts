import * as native from '@kvmts/native';
import { CheckpointError, GuestError, KvmError, KvmtsError, ConfigError, LifecycleError, VcpuThreadError, type CheckpointErrorCode, type GuestErrorKind } from './errors';
import type { SerializedError } from '../machine/worker-protocol';

/** Flatten an error for postMessage (class identity does not survive a thread hop). */
export function serializeError(e: unknown): SerializedError {
  if (e instanceof GuestError) {
    return { name: 'GuestError', message: e.message, kind: e.kind, dump: e.dump, details: { ...e.details, vcpuId: e.vcpuId }, stack: e.stack };
  }
  // A raw syscall failure from the native layer crosses as the KvmError it means (op = the call).
  if (e instanceof native.SyscallError) return { name: 'KvmError', message: `${e.syscall} failed: ${e.code} (errno ${e.errno}) — ${e.message}`, op: e.syscall, errno: e.errno, code: e.code, stack: e.stack };
  if (e instanceof KvmError) return { name: 'KvmError', message: e.message, op: e.op, errno: e.errno, code: e.code, stack: e.stack };
  if (e instanceof ConfigError) return { name: 'ConfigError', message: e.message, details: { setting: e.setting }, stack: e.stack };
  if (e instanceof CheckpointError) return { name: 'CheckpointError', message: e.message, code: e.code, details: { path: e.path }, stack: e.stack };
  if (e instanceof LifecycleError) return { name: 'LifecycleError', message: e.message, details: { object: e.object, phase: e.phase, operation: e.operation }, stack: e.stack };
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
}

/** Rebuild a typed error on the receiving thread. */
export function deserializeError(s: SerializedError, vcpuId: number): KvmtsError {
  let e: KvmtsError;
  switch (s.name) {
    case 'GuestError': {
      const { vcpuId, ...details } = (s.details ?? {}) as Record<string, number | bigint | string>;
      const msg = s.message.replace(/^vCPU \d+: /, '');
      e = new GuestError(s.kind as GuestErrorKind, Number(vcpuId), msg, s.dump ?? '', details);
      break;
    }
    case 'KvmError':
      e = Object.assign(new KvmError(s.op ?? '?', s.errno ?? 0, s.code ?? '?'), { message: s.message });
      break;
    case 'ConfigError':
      e = Object.assign(new ConfigError(String(s.details?.setting ?? '?'), ''), { message: s.message });
      break;
    case 'LifecycleError':
      // A switched-out vCPU asked to run, say: the caller can tell a misuse from a crash.
      e = new LifecycleError(String(s.details?.object ?? '?'), String(s.details?.phase ?? '?'), String(s.details?.operation ?? '?'));
      break;
    case 'CheckpointError':
      e = Object.assign(new CheckpointError(String(s.details?.path ?? '?'), '', { code: s.code as CheckpointErrorCode }), { message: s.message });
      break;
    default: {
      // The original error as far as it survives the thread hop (name, message, stack), as the cause.
      const cause = Object.assign(new Error(s.message), { name: s.name, ...(s.stack ? { stack: s.stack } : {}) });
      e = new VcpuThreadError(vcpuId, s.name, s.message, { cause });
    }
  }
  if (s.stack) e.stack = `${e.name}: ${e.message}\n    (in vCPU thread)\n${s.stack.split('\n').slice(1).join('\n')}`;
  return e;
}

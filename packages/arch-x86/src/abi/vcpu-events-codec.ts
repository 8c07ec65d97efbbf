/**
 * `struct kvm_vcpu_events` ⇄ X86VcpuEvents: the exception, interrupt, NMI and SMI a vCPU has
 * pending or in flight. `flags` says which optional parts KVM_SET_VCPU_EVENTS applies
 * (X86VcpuEventValid); GET fills it for this VM, so setting back what GET returned is exact.
 * Reserved bytes are written as zero.
 */
import { X86VcpuEventsLayout } from './layouts';

export interface X86VcpuEvents {
  exception: { injected: number; nr: number; hasErrorCode: number; pending: number; errorCode: number };
  /** `shadow`: X86InterruptShadow (1 = after MOV SS, 2 = after STI). */
  interrupt: { injected: number; nr: number; soft: number; shadow: number };
  nmi: { injected: number; pending: number; masked: number };
  sipiVector: number;
  flags: number;
  smi: { smm: number; pending: number; smmInsideNmi: number; latchedInit: number };
  tripleFaultPending: number;
  exceptionHasPayload: number;
  exceptionPayload: bigint;
}

export function createX86VcpuEvents(): X86VcpuEvents {
  return {
    exception: { injected: 0, nr: 0, hasErrorCode: 0, pending: 0, errorCode: 0 },
    interrupt: { injected: 0, nr: 0, soft: 0, shadow: 0 },
    nmi: { injected: 0, pending: 0, masked: 0 },
    sipiVector: 0,
    flags: 0,
    smi: { smm: 0, pending: 0, smmInsideNmi: 0, latchedInit: 0 },
    tripleFaultPending: 0,
    exceptionHasPayload: 0,
    exceptionPayload: 0n,
  };
}

const E = X86VcpuEventsLayout.fields;

/** Byte members: [object, key, layout member], in struct order. */
const BYTES = [
  ['exception', 'injected', 'exception.injected'],
  ['exception', 'nr', 'exception.nr'],
  ['exception', 'hasErrorCode', 'exception.has_error_code'],
  ['exception', 'pending', 'exception.pending'],
  ['interrupt', 'injected', 'interrupt.injected'],
  ['interrupt', 'nr', 'interrupt.nr'],
  ['interrupt', 'soft', 'interrupt.soft'],
  ['interrupt', 'shadow', 'interrupt.shadow'],
  ['nmi', 'injected', 'nmi.injected'],
  ['nmi', 'pending', 'nmi.pending'],
  ['nmi', 'masked', 'nmi.masked'],
  ['smi', 'smm', 'smi.smm'],
  ['smi', 'pending', 'smi.pending'],
  ['smi', 'smmInsideNmi', 'smi.smm_inside_nmi'],
  ['smi', 'latchedInit', 'smi.latched_init'],
] as const;
const BYTE_OFFSETS: readonly number[] = BYTES.map(([, , m]) => E[m].offset);

export function decodeVcpuEvents(view: DataView, out: X86VcpuEvents = createX86VcpuEvents()): X86VcpuEvents {
  const o = out as unknown as Record<string, Record<string, number>>;
  for (let i = 0; i < BYTES.length; i++) o[BYTES[i][0]][BYTES[i][1]] = view.getUint8(BYTE_OFFSETS[i]);
  out.exception.errorCode = view.getUint32(E['exception.error_code'].offset, true);
  out.sipiVector = view.getUint32(E.sipi_vector.offset, true);
  out.flags = view.getUint32(E.flags.offset, true);
  out.tripleFaultPending = view.getUint8(E['triple_fault.pending'].offset);
  out.exceptionHasPayload = view.getUint8(E.exception_has_payload.offset);
  out.exceptionPayload = view.getBigUint64(E.exception_payload.offset, true);
  return out;
}

export function encodeVcpuEvents(events: Readonly<X86VcpuEvents>, view: DataView): void {
  new Uint8Array(view.buffer, view.byteOffset, X86VcpuEventsLayout.size).fill(0);
  const o = events as unknown as Record<string, Record<string, number>>;
  for (let i = 0; i < BYTES.length; i++) view.setUint8(BYTE_OFFSETS[i], o[BYTES[i][0]][BYTES[i][1]]);
  view.setUint32(E['exception.error_code'].offset, events.exception.errorCode >>> 0, true);
  view.setUint32(E.sipi_vector.offset, events.sipiVector >>> 0, true);
  view.setUint32(E.flags.offset, events.flags >>> 0, true);
  view.setUint8(E['triple_fault.pending'].offset, events.tripleFaultPending);
  view.setUint8(E.exception_has_payload.offset, events.exceptionHasPayload);
  view.setBigUint64(E.exception_payload.offset, BigInt.asUintN(64, events.exceptionPayload), true);
}

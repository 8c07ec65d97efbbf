import { KvmExitReason } from '../abi/kvm-run';

/** Slots of the shared statistics array: one per exit reason, then kvmts' own counters. */
export const EXIT_REASON_SLOTS = 64;
export const StatSlot = {
  /** KVM_RUN calls that returned an exit (including EINTR returns). */
  runs: EXIT_REASON_SLOTS + 0,
  /** Writes taken from the coalesced MMIO/PIO ring. */
  coalesced: EXIT_REASON_SLOTS + 1,
  /** Accesses no device claimed. */
  unclaimed: EXIT_REASON_SLOTS + 2,
  /** KVM_RUN returns with EINTR (kicks, signals). */
  interrupted: EXIT_REASON_SLOTS + 3,
  /** Completions of pending I/O (immediate_exit runs until EINTR) at the end of a run or on drain. */
  halfEntries: EXIT_REASON_SLOTS + 4,
  /** Exits that completing pending I/O produced (the second half of a split MMIO access). */
  completionExits: EXIT_REASON_SLOTS + 5,
} as const;
export const STAT_SLOTS = EXIT_REASON_SLOTS + 8;

/** Per-exit-kind counts by name, for summaries: only non-zero entries. */
export type ExitCounts = Record<string, number>;

/** Turn the raw counter array into named counts ('IO', 'MMIO', …, 'coalesced', …). */
export function exitCountsFrom(stats: Float64Array): ExitCounts {
  const out: ExitCounts = {};
  for (let r = 0; r < EXIT_REASON_SLOTS; r++) {
    if (stats[r] > 0) out[KvmExitReason[r] ?? `EXIT_${r}`] = stats[r];
  }
  for (const [name, slot] of Object.entries(StatSlot)) {
    if (stats[slot] > 0) out[name] = stats[slot];
  }
  return out;
}

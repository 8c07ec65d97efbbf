/**
 * Progress of long checkpoint operations, for a user interface (the CLI draws a bar from it).
 * Saving and restoring report the guest-memory work — the only part whose time grows with the
 * guest — in bytes: `bytesDone` rises from 0 to `bytesTotal` within each phase, and every phase
 * that runs ends with one report where they are equal.
 */

/**
 * - `save-memory`: scanning guest RAM and writing the memory image (total: the image's size);
 * - `verify-memory`: checking the full image's stored pages (total: the bytes it stores);
 * - `apply-increments`: copying an incremental chain's pages over it (total: the bytes they hold).
 */
export type CheckpointPhase = 'save-memory' | 'verify-memory' | 'apply-increments';

export interface CheckpointProgress {
  readonly phase: CheckpointPhase;
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

/** An `onProgress` option: called on the main thread, synchronously, while the work runs. */
export type CheckpointProgressCallback = (progress: CheckpointProgress) => void;

/**
 * A reporter for one phase: `(done) => void`, with 0 reported at once. Only reports that advance
 * reach the callback, so the phase ends with exactly one report at its total however often the
 * work reports it (a verified restore reported its total once per remaining 4 MiB of guest: the
 * CLI printed "checking memory: 100%" 17 times). A callback that throws is the caller's bug, not
 * the checkpoint's: its error propagates and aborts the operation.
 */
export function phaseReporter(callback: CheckpointProgressCallback | undefined, phase: CheckpointPhase, bytesTotal: number): ((bytesDone: number) => void) | undefined {
  if (!callback) return undefined;
  callback({ phase, bytesDone: 0, bytesTotal });
  let reported = 0;
  return (done) => {
    const bytesDone = Math.min(done, bytesTotal);
    if (bytesDone <= reported) return;
    reported = bytesDone;
    callback({ phase, bytesDone, bytesTotal });
  };
}

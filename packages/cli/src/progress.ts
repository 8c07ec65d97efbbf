/**
 * Progress of long checkpoint saves and restores on stderr (core's onProgress reports): a bar
 * redrawn in place on a terminal, a line now and then otherwise (a log file or a CI console
 * gets no carriage returns), nothing at all with --json (the commands pass no reporter).
 */
import type { CheckpointPhase, CheckpointProgress, CheckpointProgressCallback } from '@kvmts/core';

/** What each phase is called on the screen. */
export const PHASE_LABELS: Readonly<Record<CheckpointPhase, string>> = {
  'save-memory': 'saving memory',
  'verify-memory': 'checking memory',
  'apply-increments': 'applying increments',
};

const MIB = 1024 * 1024;
const mib = (bytes: number): string => (bytes / MIB).toFixed(1);
const percent = (p: CheckpointProgress): number => (p.bytesTotal === 0 ? 100 : Math.floor((p.bytesDone / p.bytesTotal) * 100));

/** One redraw of the bar: `\r` + label, `width` cells of bar, percentage and MiB (no newline). */
export function formatProgressBar(p: CheckpointProgress, width = 30): string {
  const filled = p.bytesTotal === 0 ? width : Math.floor((p.bytesDone / p.bytesTotal) * width);
  const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
  return `\r${PHASE_LABELS[p.phase].padEnd(19)} [${bar}] ${String(percent(p)).padStart(3)}% ${mib(p.bytesDone)}/${mib(p.bytesTotal)} MiB`;
}

/** One line for a stream that is not a terminal. */
export function formatProgressLine(p: CheckpointProgress): string {
  return `${PHASE_LABELS[p.phase]}: ${mib(p.bytesDone)} of ${mib(p.bytesTotal)} MiB (${percent(p)}%)\n`;
}

/** Where progress goes: process.stderr, or a stand-in in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressReporterOptions {
  /** Milliseconds between lines when the stream is not a terminal (default 2000); bar redraws: 100. */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

/**
 * An onProgress callback drawing on `stream`. A phase's first and last report are always shown
 * (the last ends the bar's line); reports in between at most every interval.
 */
export function progressReporter(stream: ProgressStream, options: ProgressReporterOptions = {}): CheckpointProgressCallback {
  const tty = stream.isTTY === true;
  const interval = options.intervalMs ?? (tty ? 100 : 2000);
  const now = options.now ?? Date.now;
  let last = -Infinity;
  return (p) => {
    const first = p.bytesDone === 0;
    const done = p.bytesDone >= p.bytesTotal;
    const t = now();
    if (!first && !done && t - last < interval) return;
    last = t;
    stream.write(tty ? formatProgressBar(p) + (done ? '\n' : '') : formatProgressLine(p));
  };
}

/** A guest program as the host loads it: flat bytes for one guest-physical address, plus its labels. */
import * as path from 'node:path';
import { KvmtsError } from '@kvmts/core';

export interface GuestImage {
  /** Guest name (source file name without `.S`). */
  readonly name: string;
  /** Flat binary: byte 0 goes to `loadAddress`. */
  readonly bytes: Uint8Array;
  /** Guest-physical address the program is linked for. */
  readonly loadAddress: number;
  /** Address of `_start`. */
  readonly entry: number;
  /** Labels from the symbol table (`nm`): name → guest-physical address. */
  readonly symbols: ReadonlyMap<string, number>;
}

/** Where guest sources live: packages/arch-x86/guests (same relative path from src/ and dist/). */
export const GUESTS_DIR = path.resolve(__dirname, '..', '..', 'guests');
/** Committed copies of the assembled guests, for machines without binutils. */
export const PREBUILT_DIR = path.join(GUESTS_DIR, 'prebuilt');
/** Default link and load address of every guest (GUEST_LAYOUT.code). */
export const DEFAULT_GUEST_LOAD_ADDRESS = 0x8000;

/**
 * A guest could not be built or found. `reason` says which: binutils missing, the assembler or
 * linker rejected the source, or no such guest.
 */
export class GuestBuildError extends KvmtsError {
  constructor(
    readonly reason: 'toolchain-missing' | 'build-failed' | 'not-found',
    readonly guest: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`guest ${guest}: ${message}`, options);
  }
}

/** The JSON written next to a prebuilt `.bin`. */
export interface PrebuiltManifest {
  name: string;
  loadAddress: number;
  entry: number;
  /** sha256 of the source the binary was built from. */
  sourceSha256: string;
  symbols: Record<string, number>;
}

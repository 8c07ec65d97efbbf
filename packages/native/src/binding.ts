/**
 * Loads the compiled addon on first use and types its raw surface. Internal: the public
 * wrappers in the other modules turn its -errno results into SyscallError.
 *
 * Raw convention (see native/common.h): calls return their result or -errno, or `forkedRc`
 * when the fork guard refused them; nothing here throws for a failed syscall.
 */
import * as path from 'node:path';

import { NativeLoadError } from './errors';

/**
 * Names of the flag values the addon compiles in from the C headers (native/constants.cc).
 * Listed here so `constants` can answer before the addon has loaded; a test checks the addon
 * exports exactly these.
 */
export const CONSTANT_NAMES = [
  'O_RDONLY',
  'O_RDWR',
  'O_CLOEXEC',
  'O_NONBLOCK',
  'PROT_NONE',
  'PROT_READ',
  'PROT_WRITE',
  'PROT_EXEC',
  'MAP_SHARED',
  'MAP_PRIVATE',
  'MAP_ANONYMOUS',
  'MAP_NORESERVE',
  'EFD_CLOEXEC',
  'EFD_NONBLOCK',
  'EFD_SEMAPHORE',
  'SEEK_DATA',
  'SEEK_HOLE',
] as const;

export type NativeConstants = { readonly [K in (typeof CONSTANT_NAMES)[number]]: number };

export type IoctlArg = number | bigint | ArrayBufferView | undefined;

export interface NativeBinding {
  readonly constants: NativeConstants;
  /** Result value meaning "refused in a forked child" (outside the errno range). */
  readonly forkedRc: number;
  describeFailure(syscall: string, rc: number): [code: string, message: string];
  open(path: string, flags: number): number;
  close(fd: number): number;
  ioctl(fd: number, request: number, arg: IoctlArg): number;
  run(vcpuFd: number): number;
  /** ioctl(fd, requests[i], args[i]) for i < count, stopping at the first that fails or differs from expects[i] (≥ 0): how many succeeded, or -errno for bad input. */
  ioctlBatch(fd: number, count: number, requests: Uint32Array, args: readonly IoctlArg[], expects: Int32Array, results: Float64Array): number;
  eventfd(initval: number, flags: number): number;
  eventfdRead(fd: number): bigint | number;
  eventfdWrite(fd: number, value: bigint): number;
  eventfdTryRead(fd: number): bigint | number;
  perfEventOpen(attr: ArrayBufferView, pid: number, cpu: number, groupFd: number, flags: number): number;
  gettid(): number;
  pageSize(): number;
  mmap(length: number, prot: number, flags: number, fd: number, offset: number, align: number, hugePages: boolean): number;
  unmap(id: number): number;
  remapFile(id: number, prot: number, flags: number, fd: number, offset: number): number;
  lseek(fd: number, offset: number, whence: number): number;
  /** O_NONBLOCK on or off: the flag as it was (0/1), or -errno. */
  setNonBlocking(fd: number, on: boolean): number;
  nonZeroPages(view: Uint8Array, pageSize: number, skipUnpopulated: boolean): Uint8Array | undefined;
  mappingInfo(id: number): [address: bigint, length: number] | undefined;
  mappingView(id: number, offset: number, length: number): ArrayBuffer | undefined;
  detach(buffer: ArrayBuffer): boolean;
  liveMappingCount(): number;
  installKickHandler(): number;
  currentThread(): bigint;
  kickThread(thread: bigint): number;
  forkProbe(fd: number, request: number, arg: number | undefined, watchFd?: number): [rc: number, code: string, message: string, watchRc: number] | number;
  /** True in a fork()ed child of the process that loaded the addon. */
  inForkedChild(): boolean;
  /** Perf counters opened and not yet closed (each is closed in a forked child). */
  trackedPerfFdCount(): number;
  /** glibc mallinfo2() over all arenas: [arena, hblkhd, uordblks, fordblks, keepcost, hblks] bytes (hblks a count); undefined without it. */
  mallocInfo(): [arena: number, hblkhd: number, uordblks: number, fordblks: number, keepcost: number, hblks: number] | undefined;
  /** malloc_trim(0): 1 released memory, 0 none, -1 no such function. */
  mallocTrim(): number;
  /** stat(2) of each path: 6 little-endian int64 words each (stat.ts), or -EINVAL for bad input. */
  statMany(paths: readonly string[]): Buffer | number;
  /** A slice timer (slice-timer.ts): its id. */
  sliceTimerCreate(): number;
  /** 0, or -ENOENT / -EINVAL / -EBUSY. */
  sliceTimerArm(id: number, stop: Int32Array, immediateExit: Uint8Array, intervalNs: number): number;
  /** 1 the slice ran out, 0 it had not, -ENOENT. */
  sliceTimerDisarm(id: number): number;
  sliceTimerClose(id: number): number;
  liveSliceTimerCount(): number;
  /** CRC-32 of the selected pages of a view, 4 bytes each (checksum.ts), or -EINVAL. */
  pageChecksums(view: Uint8Array, pageSize: number, selected: Uint8Array | undefined, firstBit: number): Buffer | number;
}

/** build/ sits next to both src/ (ts-jest) and dist/ (compiled), one level up. */
export const addonPath = path.join(__dirname, '..', 'build', 'Release', 'kvmts_native.node');

let loaded: NativeBinding | undefined;
const swaps: ((binding: NativeBinding) => void)[] = [];

/**
 * The addon. Until it has loaded this is a stand-in whose every property read loads it (and
 * throws NativeLoadError if that fails); loading then replaces the stand-in with the addon
 * itself. Wrappers read `native` on each call, so after the first load they reach the addon's
 * functions with no indirection, and importing the package never needs a build.
 */
export let native: NativeBinding = new Proxy({} as NativeBinding, {
  get: (_stub, key) => Reflect.get(loadNative(), key),
});

/** Loads the addon once (per thread); throws NativeLoadError with a build hint. */
export function loadNative(): NativeBinding {
  if (loaded !== undefined) return loaded;
  try {
    loaded = require(addonPath) as NativeBinding;
  } catch (cause) {
    throw new NativeLoadError(
      `kvmts: cannot load the native addon at ${addonPath}; build it with ` +
        `\`npm run build:native\` in ${path.resolve(__dirname, '..')} (or reinstall @kvmts/native)`,
      { cause },
    );
  }
  native = loaded;
  for (const swap of swaps) swap(loaded);
  return loaded;
}

/**
 * Runs `swap` once the addon has loaded (at once if it has): modules that export addon
 * functions as they are (the hot path `run`) use it to replace their lazy stubs.
 */
export function onNativeLoad(swap: (binding: NativeBinding) => void): void {
  if (loaded === undefined) swaps.push(swap);
  else swap(loaded);
}

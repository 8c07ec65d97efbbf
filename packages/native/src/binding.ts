/**
 * Loads the compiled addon and types its raw surface. Internal: the public wrappers in the
 * other modules turn its -errno results into SyscallError.
 *
 * Raw convention (see native/common.h): calls return their result or -errno, or `forkedRc`
 * when the fork guard refused them; nothing here throws for a failed syscall.
 */
import * as path from 'node:path';

import { NativeLoadError } from './errors';

export interface NativeConstants {
  readonly O_RDONLY: number;
  readonly O_RDWR: number;
  readonly O_CLOEXEC: number;
  readonly O_NONBLOCK: number;
  readonly PROT_NONE: number;
  readonly PROT_READ: number;
  readonly PROT_WRITE: number;
  readonly PROT_EXEC: number;
  readonly MAP_SHARED: number;
  readonly MAP_PRIVATE: number;
  readonly MAP_ANONYMOUS: number;
  readonly MAP_NORESERVE: number;
  readonly EFD_CLOEXEC: number;
  readonly EFD_NONBLOCK: number;
  readonly EFD_SEMAPHORE: number;
}

export type IoctlArg = number | bigint | ArrayBufferView | undefined;

export interface NativeBinding {
  readonly constants: NativeConstants;
  /** Result value meaning "refused in a forked child" (outside the errno range). */
  readonly forkedRc: number;
  /** Largest ArrayBuffer the addon hands out (4 GiB on Node 20). */
  readonly maxViewLength: number;
  describeFailure(syscall: string, rc: number): [code: string, message: string];
  open(path: string, flags: number): number;
  close(fd: number): number;
  ioctl(fd: number, request: number, arg: IoctlArg): number;
  run(vcpuFd: number): number;
  eventfd(initval: number, flags: number): number;
  eventfdRead(fd: number): bigint | number;
  eventfdWrite(fd: number, value: bigint): number;
  perfEventOpen(attr: ArrayBufferView, pid: number, cpu: number, groupFd: number, flags: number): number;
  gettid(): number;
  pageSize(): number;
  mmap(length: number, prot: number, flags: number, fd: number, offset: number): number;
  unmap(id: number): number;
  mappingInfo(id: number): [address: bigint, length: number] | undefined;
  mappingView(id: number, offset: number, length: number): ArrayBuffer | undefined;
  detach(buffer: ArrayBuffer): boolean;
  liveMappingCount(): number;
  installKickHandler(): number;
  currentThread(): bigint;
  kickThread(thread: bigint): number;
  forkProbe(fd: number, request: number, arg: number | undefined): [rc: number, code: string, message: string] | number;
}

/** build/ sits next to both src/ (ts-jest) and dist/ (compiled), one level up. */
export const addonPath = path.join(__dirname, '..', 'build', 'Release', 'kvmts_native.node');

function load(): NativeBinding {
  try {
    return require(addonPath) as NativeBinding;
  } catch (cause) {
    throw new NativeLoadError(
      `kvmts: cannot load the native addon at ${addonPath}; build it with ` +
        '`cd packages/native && npx cmake-js compile --out build` (or `npm install`)',
      { cause },
    );
  }
}

export const native: NativeBinding = load();

import { ConfigError } from '../errors/errors';

/**
 * Linux ioctl request encoding (asm-generic/ioctl.h, used by x86 and arm64):
 * dir<<30 | size<<16 | type<<8 | nr, where dir 1 = write (user→kernel), 2 = read, 3 = both.
 * Results are unsigned 32-bit numbers, which the native layer passes through unchanged.
 */
export const KVMIO = 0xae;

/** _IOC_NONE / _IOC_WRITE / _IOC_READ; a request's direction is WRITE | READ for _IOWR. */
export const IocDir = { NONE: 0, WRITE: 1, READ: 2 } as const;

const IOC_NONE = IocDir.NONE;
const IOC_WRITE = IocDir.WRITE;
const IOC_READ = IocDir.READ;

function ioc(dir: number, nr: number, size: number, type = KVMIO): number {
  if (!Number.isInteger(size) || size < 0 || size >= 1 << 14) {
    throw new ConfigError('ioctl.size', `ioctl size ${size} does not fit 14 bits`);
  }
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}

export const io = (nr: number): number => ioc(IOC_NONE, nr, 0);
export const ior = (nr: number, size: number): number => ioc(IOC_READ, nr, size);
export const iow = (nr: number, size: number): number => ioc(IOC_WRITE, nr, size);
export const iowr = (nr: number, size: number): number => ioc(IOC_READ | IOC_WRITE, nr, size);

/** The four fields of an encoded request, for error messages and tests. */
export interface DecodedIoctl {
  /** Bitwise IocDir: 0 none, 1 write, 2 read, 3 read|write. */
  readonly dir: number;
  readonly type: number;
  readonly nr: number;
  readonly size: number;
}

export function decodeIoctl(request: number): DecodedIoctl {
  return {
    dir: (request >>> 30) & 0x3,
    size: (request >>> 16) & 0x3fff,
    type: (request >>> 8) & 0xff,
    nr: request & 0xff,
  };
}

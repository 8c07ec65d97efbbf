/** Control-register, EFER and RFLAGS bits the mode builders set (Intel SDM vol. 3 §2.5, §2.2.1). */

export const CR0 = {
  PE: 1n << 0n,
  MP: 1n << 1n,
  ET: 1n << 4n,
  NE: 1n << 5n,
  WP: 1n << 16n,
  AM: 1n << 18n,
  NW: 1n << 29n,
  CD: 1n << 30n,
  PG: 1n << 31n,
} as const;

export const CR4 = {
  PSE: 1n << 4n,
  PAE: 1n << 5n,
  PGE: 1n << 7n,
  OSFXSR: 1n << 9n,
  OSXMMEXCPT: 1n << 10n,
  LA57: 1n << 12n,
} as const;

export const EFER = {
  SCE: 1n << 0n,
  LME: 1n << 8n,
  LMA: 1n << 10n,
  NXE: 1n << 11n,
} as const;

export const RFLAGS = {
  /** Bit 1 is reserved and always reads 1. */
  FIXED: 1n << 1n,
  IF: 1n << 9n,
  /** I/O privilege level 3: `in`/`out`/`cli`/`sti` allowed at CPL3 without an I/O bitmap. */
  IOPL3: 3n << 12n,
} as const;

/** CR0 after reset (CD | NW | ET), what KVM reports for a fresh vCPU. */
export const CR0_RESET = CR0.CD | CR0.NW | CR0.ET;

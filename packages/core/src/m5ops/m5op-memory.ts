/**
 * How an m5op's address arguments reach guest RAM. gem5 takes them as guest-virtual addresses
 * (its util/m5 runs in a Linux process and passes pointers), so an arch that can walk the guest's
 * page tables hands a `translate` function (x86: KVM_TRANSLATE) and the buffer is resolved page
 * by page; without one, addresses are guest-physical. Either way RAM is reached through
 * GuestMemory's bounds-checked views, and what is not RAM is a problem naming the range.
 */
import type { GuestMemory } from '../vm/guest-memory';

/** What the m5ops need of guest memory: GuestMemory's bounds-checked view (it throws outside RAM). */
export type GuestRam = Pick<GuestMemory, 'bytes'>;

/** A problem with the guest's arguments; the caller turns it into a GuestError with a dump. */
export class M5opArgumentProblem {
  constructor(readonly message: string, readonly details: Record<string, string | number | bigint>) {}
}

/** Guest addresses as an op names them, resolved to RAM. */
export interface M5opAddressSpace {
  /**
   * The RAM behind [address, address + length), as views in address order (one per run of
   * guest-physically contiguous pages), or a problem naming the range that is not RAM or not mapped.
   */
  views(op: string, address: bigint, length: bigint): Uint8Array[] | M5opArgumentProblem;
}

/** Guest-virtual → guest-physical for one address; undefined when the guest has it unmapped. */
export type TranslateGuestAddress = (virtualAddress: bigint) => bigint | undefined;

/** Buffers above this are refused: a guest asking for more is a bug, not a transfer. */
export const M5OP_MAX_TRANSFER = 0xffffffffn;
const PAGE = 4096n;

const range = (address: bigint, length: bigint) => `0x${address.toString(16)}..0x${(address + length - 1n).toString(16)}`;

function outsideRam(op: string, address: bigint, length: bigint): M5opArgumentProblem {
  return new M5opArgumentProblem(`${op}: guest buffer ${range(address, length)} is outside guest RAM`, { op, address, length });
}

function ramView(memory: GuestRam, gpa: bigint, length: bigint): Uint8Array | undefined {
  if (gpa + length > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  try {
    return memory.bytes(Number(gpa), Number(length));
  } catch {
    return undefined;
  }
}

/** Addresses are guest-physical. */
export function physicalAddressSpace(memory: GuestRam): M5opAddressSpace {
  return {
    views(op, address, length) {
      if (length === 0n) return [];
      if (length > M5OP_MAX_TRANSFER) return outsideRam(op, address, length);
      const view = ramView(memory, address, length);
      return view ? [view] : outsideRam(op, address, length);
    },
  };
}

/** Addresses are guest-virtual: each 4 KiB page is translated, runs of contiguous pages share one view. */
export function virtualAddressSpace(memory: GuestRam, translate: TranslateGuestAddress): M5opAddressSpace {
  return {
    views(op, address, length) {
      if (length === 0n) return [];
      if (length > M5OP_MAX_TRANSFER) return outsideRam(op, address, length);
      const views: Uint8Array[] = [];
      let runStart = 0n; // guest-physical start of the current run of contiguous pages
      let runLength = 0n;
      const flush = (): boolean => {
        if (runLength === 0n) return true;
        const view = ramView(memory, runStart, runLength);
        if (!view) return false;
        views.push(view);
        return true;
      };
      const end = address + length;
      for (let va = address; va < end; ) {
        const pageEnd = (va / PAGE + 1n) * PAGE;
        const chunk = (pageEnd < end ? pageEnd : end) - va;
        const pa = translate(va);
        if (pa === undefined) {
          return new M5opArgumentProblem(`${op}: guest address 0x${va.toString(16)} (in ${range(address, length)}) is not mapped by the guest's page tables`, { op, address, length, unmapped: va });
        }
        if (runLength > 0n && pa === runStart + runLength) {
          runLength += chunk;
        } else {
          if (!flush()) return outsideRam(op, address, length);
          runStart = pa;
          runLength = chunk;
        }
        va += chunk;
      }
      return flush() ? views : outsideRam(op, address, length);
    },
  };
}

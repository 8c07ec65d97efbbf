/** 128-bit little-endian values (x87 and XMM slots) as unsigned bigints. */

const U64 = 64n;
const MASK64 = (1n << U64) - 1n;

export function getU128(view: DataView, at: number): bigint {
  return (view.getBigUint64(at + 8, true) << U64) | view.getBigUint64(at, true);
}

export function setU128(view: DataView, at: number, value: bigint): void {
  const v = BigInt.asUintN(128, value);
  view.setBigUint64(at, v & MASK64, true);
  view.setBigUint64(at + 8, v >> U64, true);
}

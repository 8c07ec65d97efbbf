/**
 * A CPU fingerprint: what a checkpoint records about the CPU its guest ran on, so a restore on
 * a CPU that cannot continue the guest fails up front with a precise error instead of the guest
 * faulting later. Arch-neutral in shape: x86 fills it from CPUID, arm64 from its ID registers.
 */

export interface CpuFingerprint {
  /** Who made it and how to read it, e.g. 'x86-cpuid'; fingerprints of different kinds never match. */
  readonly kind: string;
  /** Must be equal on restore (x86: vendor, family/model/stepping signature; arm64: MIDR_EL1). */
  readonly identity: Readonly<Record<string, string>>;
  /**
   * Feature words as hex bitmasks (`0x…`). Every bit set at save must be set on the restoring
   * CPU (more is fine): x86 'leaf 0x7.0 ebx'; arm64 could give ID_AA64ISAR0_EL1 fields.
   */
  readonly features: Readonly<Record<string, string>>;
  /** A digest of everything the CPU offers, for diagnostics (not compared). */
  readonly digest: string;
}

/**
 * How `current` cannot continue a guest fingerprinted as `saved`: one sentence per difference
 * (empty: compatible). A missing feature bit names the word and the bit.
 */
export function fingerprintMismatches(saved: CpuFingerprint, current: CpuFingerprint): string[] {
  if (saved.kind !== current.kind) return [`the checkpoint's CPU fingerprint is of kind '${saved.kind}', this host's of kind '${current.kind}'`];
  const out: string[] = [];
  for (const [key, value] of Object.entries(saved.identity)) {
    const now = current.identity[key];
    if (now !== value) out.push(`${key} was ${value}, this host has ${now ?? 'none'}`);
  }
  for (const [word, value] of Object.entries(saved.features)) {
    const had = BigInt(value);
    const has = current.features[word] === undefined ? 0n : BigInt(current.features[word]);
    const missing = had & ~has;
    if (missing === 0n) continue;
    const bits: number[] = [];
    for (let bit = 0; missing >> BigInt(bit) !== 0n; bit++) if ((missing >> BigInt(bit)) & 1n) bits.push(bit);
    out.push(`${word}: bit${bits.length > 1 ? 's' : ''} ${bits.join(', ')} set at save, not offered here`);
  }
  return out;
}

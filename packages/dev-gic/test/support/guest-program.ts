/**
 * The tiny arm64 guests of scripts/nested/guest-asm/arm64/, assembled by the nested runner into
 * $KVMTS_GUEST_ASM. dev-gic's nested suites keep their own copy of this reader (arch-arm64's test
 * rig has the same one) because a package may reach another only through its public entry points.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '@kvmts/core';

export function guestProgram(name: string): Uint8Array {
  const dir = process.env.KVMTS_GUEST_ASM;
  if (!dir) throw new ConfigError('KVMTS_GUEST_ASM', 'unset: this suite runs inside the nested arm64 host (npm run test:nested:arm64)');
  return fs.readFileSync(path.join(dir, `${name}.bin`));
}

/**
 * Worker fixtures load the COMPILED package (dist/index.js), as a real vCPU worker would.
 * Build it when it is missing or older than the sources, so `npx jest packages/native`
 * works on a fresh checkout.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const packageDir = path.resolve(__dirname, '..', '..');
export const distIndex = path.join(packageDir, 'dist', 'index.js');

function newestSource(): number {
  const dir = path.join(packageDir, 'src');
  return Math.max(...fs.readdirSync(dir).map((f) => fs.statSync(path.join(dir, f)).mtimeMs));
}

export function ensureDistBuilt(): string {
  const stale = !fs.existsSync(distIndex) || fs.statSync(distIndex).mtimeMs < newestSource();
  if (stale) {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', packageDir], { stdio: 'inherit' });
  }
  return distIndex;
}

/**
 * Worker fixtures and child processes load COMPILED packages (dist/index.js), as a real vCPU
 * worker or a consumer would. Build a package when its dist is missing or older than its
 * sources, so `npx jest packages/native` works on a fresh checkout.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const packageDir = path.resolve(__dirname, '..', '..');

function newestSource(dir: string): number {
  const src = path.join(dir, 'src');
  const files = fs.readdirSync(src, { recursive: true, encoding: 'utf8' });
  return Math.max(...files.map((f) => fs.statSync(path.join(src, f)).mtimeMs));
}

/** Builds the package in `dir` (tsc -b: its references too) if stale; returns its dist/index.js. */
export function ensureDistBuilt(dir = packageDir): string {
  const index = path.join(dir, 'dist', 'index.js');
  // tsc -b rewrites only the outputs that changed, but always its build info.
  const buildInfo = path.join(dir, 'dist', '.tsbuildinfo');
  const stale = !fs.existsSync(index) || !fs.existsSync(buildInfo) || fs.statSync(buildInfo).mtimeMs < newestSource(dir);
  if (stale) {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', dir], { stdio: 'inherit' });
  }
  return index;
}

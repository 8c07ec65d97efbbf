/**
 * util/lazy-builtins.ts: the built-ins a start-up need not load, on first use. The module loads
 * none of them itself (checked in a fresh Node, where nothing else has loaded them), and each
 * accessor gives the real module (a SHA-256 of "abc" against its published value).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createSha256, nodeZlib } from '../src/util/lazy-builtins';

describe('lazy built-ins', () => {
  it('hash and checksum with the real modules (golden values)', () => {
    expect(createSha256().update('abc').digest('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(nodeZlib().crc32('123456789')).toBe(0xcbf43926);
  });

  it('loads none of node:crypto, node:v8, node:zlib, node:child_process until asked', () => {
    const module = path.resolve(__dirname, '..', 'dist', 'util', 'lazy-builtins.js');
    const script = `const before = new Set(process.moduleLoadList);
const lazy = require(${JSON.stringify(module)});
const added = () => process.moduleLoadList.filter((m) => !before.has(m) && /^NativeModule (crypto|v8|zlib|child_process)$/.test(m));
const atLoad = added();
lazy.createSha256();
process.stdout.write(JSON.stringify({ atLoad, afterHash: added() }));`;
    // A script file, not `node -e`: Node's own -e handling loads node:crypto before the script runs.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-lazy-'));
    const file = path.join(dir, 'probe.js');
    fs.writeFileSync(file, script);
    let out: { atLoad: string[]; afterHash: string[] };
    try {
      out = JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })) as typeof out;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(out.atLoad).toEqual([]);
    expect(out.afterHash).toEqual(['NativeModule crypto']);
  });
});

/**
 * docs/architecture.md's worked example is real code (2 of 2): the block marked
 * `// docs-example: composition` runs as its own Node process (it is also the plugin module its
 * vCPU threads load) and prints what the page says it prints. Type-checked in docs-example.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as ts from 'typescript';

const REPO = path.resolve(__dirname, '../../..');
const page = fs.readFileSync(path.join(REPO, 'docs/architecture.md'), 'utf8');
const example = /```ts\n(\/\/ docs-example: composition\n[\s\S]*?)```/.exec(page)?.[1] ?? '';

describe('docs/architecture.md worked example', () => {
  itKvm('runs: slots logged by the VM override, power-off, and the CPU override in every vCPU thread', () => {
    const out = ts.transpileModule(example, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-docs-example-'));
    const file = path.join(dir, 'composition.js');
    // Outside the repo, so point module resolution at its node_modules (the built packages).
    fs.writeFileSync(file, `module.paths.unshift(${JSON.stringify(path.join(REPO, 'node_modules'))});\n${out.outputText}`);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 120_000 });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['slot 0: ram-low at 0x0', "{ reason: 'poweroff', status: 0 }", 'CountingCPU runs=1', '']);
  });
});

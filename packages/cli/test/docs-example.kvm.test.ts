/**
 * The worked examples in docs/ are real code (2 of 2): each marked block runs as its own Node
 * process (it is also the plugin module its vCPU threads load) and prints what the page says.
 * Type-checked in docs-example.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as ts from 'typescript';
import { DOCS_EXAMPLES, REPO } from './docs-examples';

describeKvm('worked examples in docs/', () => {
  it.each(DOCS_EXAMPLES)('$doc "$name" runs and prints what the page says', (example) => {
    const out = ts.transpileModule(example.code, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-docs-example-'));
    try {
      const file = path.join(dir, `${example.name}.js`);
      // Outside the repo, so point module resolution at its node_modules (the built packages).
      fs.writeFileSync(file, `module.paths.unshift(${JSON.stringify(path.join(REPO, 'node_modules'))});\n${out.outputText}`);
      const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 120_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout.split('\n')).toEqual([...example.prints, '']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

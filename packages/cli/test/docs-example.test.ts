/**
 * The worked examples in docs/ are real code (1 of 2): each block marked `// docs-example:
 * <name>` type-checks against the packages' sources. Running them needs KVM:
 * docs-example.kvm.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { DOCS_EXAMPLES, REPO } from './docs-examples';

describe.each(DOCS_EXAMPLES)('$doc worked example "$name"', (example) => {
  it('is on the page and type-checks against the packages', () => {
    expect(example.code).toContain('createMachine');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-docs-example-'));
    try {
      const file = path.join(dir, `${example.name}.ts`);
      fs.writeFileSync(file, example.code);
      const program = ts.createProgram([file], {
        strict: true,
        noEmit: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.Node16,
        moduleResolution: ts.ModuleResolutionKind.Node16,
        experimentalDecorators: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [path.join(REPO, 'node_modules/@types')],
        baseUrl: REPO,
        paths: { '@kvmts/*': ['packages/*/src'], tsyringe: ['node_modules/tsyringe'] },
      });
      const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(diagnostics).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * docs/architecture.md's worked example is real code (1 of 2): the block marked
 * `// docs-example: composition` type-checks against the packages' sources. Running it needs
 * KVM: docs-example.kvm.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';

const REPO = path.resolve(__dirname, '../../..');
const page = fs.readFileSync(path.join(REPO, 'docs/architecture.md'), 'utf8');
const example = /```ts\n(\/\/ docs-example: composition\n[\s\S]*?)```/.exec(page)?.[1] ?? '';

describe('docs/architecture.md worked example', () => {
  it('is on the page and type-checks against the packages', () => {
    expect(example).toContain('createMachine');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-docs-example-'));
    const file = path.join(dir, 'composition.ts');
    fs.writeFileSync(file, example);
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
    fs.rmSync(dir, { recursive: true, force: true });
  });

});

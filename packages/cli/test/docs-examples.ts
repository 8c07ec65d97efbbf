/**
 * The worked examples in docs/: code blocks marked `// docs-example: <name>`, each with what it
 * must print when run. Shared by docs-example.test.ts (type-check) and docs-example.kvm.test.ts (run).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '../../..');

export interface DocsExample {
  readonly doc: string;
  readonly name: string;
  readonly code: string;
  /** stdout lines the example prints, in order. */
  readonly prints: readonly string[];
}

const EXPECTED: readonly Omit<DocsExample, 'code'>[] = [
  { doc: 'docs/architecture.md', name: 'composition', prints: ['slot 0: ram-low at 0x0', "{ reason: 'poweroff', status: 0 }", 'CountingCPU runs=1'] },
  { doc: 'docs/writing-an-arch-plugin.md', name: 'arch-plugin', prints: ["{ reason: 'poweroff', status: 0 } [ 'flat-ram' ]", 'rbx=55'] },
  { doc: 'docs/architecture.md', name: 'pci-device', prints: ["{ reason: 'poweroff', status: 0 }", 'device 3: counter reads 0 1 2'] },
];

export const DOCS_EXAMPLES: readonly DocsExample[] = EXPECTED.map((e) => {
  const page = fs.readFileSync(path.join(REPO, e.doc), 'utf8');
  const marker = `// docs-example: ${e.name}\n`;
  const code = new RegExp('```ts\\n(' + marker.replace(/[/]/g, '\\/') + '[\\s\\S]*?)```').exec(page)?.[1] ?? '';
  return { ...e, code };
});

/**
 * The README's machine-composition example is real code: extract it, transpile it with the
 * TypeScript compiler (syntax errors fail the test) and run it against /dev/kvm.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import * as core from '@kvmts/core';
import * as x86 from '@kvmts/arch-x86';

const readme = fs.readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';

describe('README', () => {
  it('names the set-up-and-run command and the test command near the top', () => {
    const top = readme.split('\n').slice(0, 30).join('\n');
    expect(top).toMatch(/^npm ci && npm start\b/m);
    expect(top).toMatch(/^npm test\b/m);
  });

  it('has a composition example of at most ~20 lines of code', () => {
    const code = example.split('\n').filter((l) => l.trim() && !l.trim().startsWith('//'));
    expect(code.length).toBeGreaterThan(5);
    expect(code.length).toBeLessThanOrEqual(24);
  });

  itKvm('its example compiles and runs: the guest powers off with status 0', async () => {
    const out = ts.transpileModule(example, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 }, reportDiagnostics: true });
    expect(out.diagnostics ?? []).toEqual([]);
    const logged: unknown[][] = [];
    const modules: Record<string, unknown> = { '@kvmts/core': core, '@kvmts/arch-x86': x86 };
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (...a: string[]) => (...v: unknown[]) => Promise<void>;
    const run = new AsyncFunction('require', 'console', 'exports', out.outputText);
    await run((m: string) => modules[m], { log: (...a: unknown[]) => logged.push(a) }, {});
    expect(logged[0][0]).toEqual({ reason: 'poweroff', status: 0 });
    expect((logged[0][1] as { IO: number }[])[0].IO).toBeGreaterThan(0);
  });
});

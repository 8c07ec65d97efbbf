/**
 * The CLI's stdout and stderr without Node's stdio streams (src/stdio.ts), in child processes
 * on real pipes: what is written arrives, in order, without loading `net` or the streams until
 * something asks for process.stdout; a reader that went away ends the process quietly with its
 * status; a closed fd falls back to Node's own handling.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const STDIO = path.resolve(__dirname, '..', 'dist', 'stdio.js');

/** Runs `body` in a child with `s` = the compiled stdio module; fd 3 carries `report(value)`'s JSON. */
function child(body: string, shell?: string): { status: number | null; stdout: string; stderr: string; report: unknown } {
  const script = `const s = require(${JSON.stringify(STDIO)}); const report = (v) => require('fs').writeSync(3, JSON.stringify(v));\n${body}`;
  const r = shell
    ? spawnSync('bash', ['-c', shell, script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe'] })
    : spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  const fd3 = r.output[3] as string | null;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, report: fd3 ? JSON.parse(fd3) : undefined };
}

const LOADED = "process.moduleLoadList.filter((m) => /^NativeModule (net|stream|internal\\/streams\\/writable)$/.test(m))";

describe('writeStdio', () => {
  it('writes to pipes without loading net or the streams', () => {
    const r = child(`s.installStdioRules(); s.writeStdio(1, 'out\\n'); s.writeStdio(2, Buffer.from('err\\n')); s.writeStdio(1, new Uint8Array([0x41, 0x0a])); report(${LOADED});`);
    expect(r).toEqual({ status: 0, stdout: 'out\nA\n', stderr: 'err\n', report: [] });
  });

  it('keeps the order when a stream is made between two writes, and goes through it from then on', () => {
    const r = child(`s.installStdioRules(); s.writeStdio(1, '1\\n'); process.stdout.write('2\\n'); s.writeStdio(1, '3\\n'); report(${LOADED});`);
    expect(r.stdout).toBe('1\n2\n3\n');
    expect(r.report).toEqual(expect.arrayContaining(['NativeModule net']));
  });

  it('goes through the streams before installStdioRules (nothing then watches for a stream being made)', () => {
    const r = child(`s.writeStdio(1, 'x\\n'); report(${LOADED});`);
    expect(r.stdout).toBe('x\n');
    expect(r.report).toEqual(expect.arrayContaining(['NativeModule net']));
  });

  it('ends quietly, with the exit status so far, when the reader has gone (EPIPE), written directly or through a stream', () => {
    for (const how of ['s.writeStdio(1, chunk)', 'process.stdout.write(chunk)']) {
      const body = `s.installStdioRules(); process.exitCode = 3; const chunk = Buffer.alloc(65536, 0x61); for (let i = 0; i < 64; i++) ${how};`;
      // The reader (true) exits at once: the pipe has no reader left when the writes fill it.
      const r = child(body, 'node -e "$0" | (sleep 0.2; true); echo "node exited ${PIPESTATUS[0]}" >&2');
      expect(r.stderr).toBe('node exited 3\n');
    }
  });

  it('falls back to Node`s own handling for a closed stdout (no error, no crash)', () => {
    const r = child(`s.installStdioRules(); s.writeStdio(1, 'lost\\n'); s.writeStdio(2, 'kept\\n');`, 'node -e "$0" >&-; echo "node exited $?" >&2');
    expect(r.stderr).toBe('kept\nnode exited 0\n');
  });
});

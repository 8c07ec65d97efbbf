/**
 * The CLI's stdout and stderr without Node's stdio streams (src/stdio.ts), in child processes
 * on real pipes and files: what is written arrives, in order, without loading `net` or the
 * streams until something asks for process.stdout; a pipe is written through a non-blocking
 * open of its own, so a reader that falls behind hands the writes to the stream (nothing lost,
 * nobody else's pipe flags changed); a reader that went away ends the process quietly.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const STDIO = path.resolve(__dirname, '..', 'dist', 'stdio.js');

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-stdio-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * Runs `body` in a child Node with `s` = the compiled stdio module; `report(value)` sends JSON
 * on fd 3. With `shell`, bash runs it: `$NODE` is this Node, `$SCRIPT` the script.
 */
function child(body: string, shell?: string): { status: number | null; stdout: string; stderr: string; report: unknown } {
  const script = path.join(dir, `child-${Math.random().toString(36).slice(2)}.js`);
  fs.writeFileSync(script, `const s = require(${JSON.stringify(STDIO)});\nconst report = (v) => require('fs').writeSync(3, JSON.stringify(v));\n${body}\n`);
  const env: NodeJS.ProcessEnv = { ...process.env, NODE: process.execPath, SCRIPT: script };
  delete env.NODE_OPTIONS;
  const r = shell
    ? spawnSync('bash', ['-c', shell], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'], timeout: 30_000 })
    : spawnSync(process.execPath, [script], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'], timeout: 30_000 });
  const fd3 = r.output[3] as string | null;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, report: fd3 ? JSON.parse(fd3) : undefined };
}

const LOADED = "process.moduleLoadList.filter((m) => /^NativeModule (net|stream)$/.test(m))";
/** fd 1's file status flags include O_NONBLOCK (from /proc/self/fdinfo: octal). */
const FD1_NONBLOCKING = "(parseInt(/^flags:\\s*([0-7]+)/m.exec(require('fs').readFileSync('/proc/self/fdinfo/1', 'utf8'))[1], 8) & require('fs').constants.O_NONBLOCK) !== 0";

describe('writeStdio', () => {
  it('writes to a Node parent`s stdio (socketpairs) without loading net or the streams, its end made non-blocking as libuv would', () => {
    const r = child(`s.installStdioRules(); s.writeStdio(1, 'out\\n'); s.writeStdio(2, Buffer.from('err\\n')); s.writeStdio(1, new Uint8Array([0x41, 0x42, 0x0a]).subarray(1)); report({ loaded: ${LOADED}, nonBlocking: ${FD1_NONBLOCKING} });`);
    expect(r).toEqual({ status: 0, stdout: 'out\nB\n', stderr: 'err\n', report: { loaded: [], nonBlocking: true } });
  });

  it('writes to a shell`s pipe without loading net or the streams, through its own non-blocking open: the shared pipe stays blocking', () => {
    const r = child(`s.installStdioRules(); s.writeStdio(1, 'out\\n'); report({ loaded: ${LOADED}, nonBlocking: ${FD1_NONBLOCKING} });`, '"$NODE" "$SCRIPT" | cat');
    expect(r).toMatchObject({ status: 0, stdout: 'out\n', report: { loaded: [], nonBlocking: false } });
  });

  it('writes to a file directly, appending where the shell`s redirection put it', () => {
    const file = path.join(dir, 'out.txt');
    fs.writeFileSync(file, 'before\n');
    const r = child(`s.installStdioRules(); s.writeStdio(1, 'one\\n'); s.writeStdio(1, 'two\\n'); report(${LOADED});`, `"$NODE" "$SCRIPT" >> ${JSON.stringify(file)}`);
    expect(r.report).toEqual([]);
    expect(fs.readFileSync(file, 'utf8')).toBe('before\none\ntwo\n');
  });

  it('hands the writes to the stream when the pipe`s reader falls behind: nothing lost, in order', () => {
    // 4 MiB against a 64 KiB pipe whose reader starts late: the non-blocking write fills it,
    // EAGAIN, and the rest (and the line after it) go through the stream, which queues.
    const body = `s.installStdioRules(); s.writeStdio(1, Buffer.alloc(4 << 20, 0x61)); s.writeStdio(1, 'end\\n'); report(${LOADED});`;
    const r = child(body, '"$NODE" "$SCRIPT" | (sleep 0.3; wc -c; cat > /dev/null)');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(String((4 << 20) + 4));
    expect(r.report).toEqual(expect.arrayContaining(['NativeModule net']));
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

  it('shares what it knows between two copies of the module (dist/bin.js` and the bundle`s)', () => {
    const r = child(`s.installStdioRules(); process.stdout; delete require.cache[require.resolve(${JSON.stringify(STDIO)})]; const copy = require(${JSON.stringify(STDIO)}); copy.installStdioRules(); copy.writeStdio(1, 'via the stream\\n'); report(true);`);
    expect(r).toMatchObject({ status: 0, stdout: 'via the stream\n', report: true });
  });

  it('ends quietly, with the exit status so far, when the reader has gone (EPIPE), written directly or through a stream', () => {
    for (const how of ['s.writeStdio(1, chunk)', 'process.stdout.write(chunk)']) {
      const body = `s.installStdioRules(); process.exitCode = 3; const chunk = Buffer.alloc(65536, 0x61); for (let i = 0; i < 64; i++) ${how};`;
      // The reader exits without reading: the pipe has no reader left when the writes fill it.
      const r = child(body, '"$NODE" "$SCRIPT" | (sleep 0.2; true); echo "node exited ${PIPESTATUS[0]}" >&2');
      expect(r.stderr).toBe('node exited 3\n');
    }
  });
});

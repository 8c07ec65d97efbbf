/**
 * Nested x86 tier only: `kvmts boot` (the user-facing path: a child process, its console on
 * stdin/stderr) boots Debian's kernel — the emulated host's own, $KVMTS_GUEST_KERNEL — with a
 * busybox initramfs to a shell, as an L2 guest: the bzImage through the 64-bit boot protocol,
 * on 1 vCPU. Open gaps, seen in the nested tier and not yet understood: on 2 vCPUs the kernel
 * came up using only one of them (nproc said 1; the MP table is written, the ACPI tables carry
 * no MADT), and the ELF vmlinux unpacked from the bzImage (the nested runner puts it beside it)
 * booted through its PVH entry printed nothing within the runner's 240 s idle limit. Commands typed on the
 * console run and their output comes back, `nproc` counts the vCPUs, `poweroff -f` ends the
 * run with status 0 (ACPI S5 through the acpi-pm device) and a kernel panic ends it with status 2
 * (panic=-1 reboots through the i8042, which ends the run as a reset).
 *
 * Two boots cover the cases, as each takes tens of seconds in the emulated host. The busybox is
 * the emulated host's own (/bin/busybox, static x86-64). `quiet` keeps the console short: every
 * UART byte is a port exit here. A failure prints the console's tail.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { ConfigError, newcArchive } from '@kvmts/core';
import { parseBzImageHeader } from '@kvmts/arch-x86';

const CLI = path.resolve(__dirname, '..', '..', 'cli', 'dist', 'bin.js');
/** The shell's prompt: distinct from anything the kernel prints. */
const PROMPT = 'kvmts-sh# ';
/**
 * One boot's limit: they take 25–110 s in the emulated host, depending on the machine's load. The
 * console's lines are echoed as they come (below), so the nested runner's idle timeout, which
 * watches the emulated host's console, does not mistake a slow boot for a hung host.
 */
const BOOT_LIMIT_MS = 200_000;
/** A line on the emulated host's console this often while a boot is quiet (`quiet`: nothing until userspace). */
const HEARTBEAT_MS = 45_000;
/** What the init script prints first: a boot that never printed it did not reach userspace. */
const USERSPACE_LINE = 'kvmts-l2: shell on';

/** /init: mount /proc, install busybox's applets, then an interactive shell on the console. */
const SHELL_INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
export PS1='${PROMPT}'
echo "kvmts-l2: shell on $(uname -m), kernel $(uname -r)"
exec sh
`;

/**
 * The L2 console as it may appear on the emulated host's console: the nested runner reads that
 * for the L1 kernel's own panics, lockups and RCU stalls and stops the host at once, so the L2
 * kernel's (this suite causes a panic on purpose) are marked as the L2's, which breaks the match.
 */
function l1Safe(text: string): string {
  // Each pattern as two words split around where the mark goes (no source line holds the whole phrase).
  return L1_ALARMS.reduce((t, [a, b]) => t.replaceAll(`${a}${b}`, `${a}[L2] ${b}`), text);
}
const L1_ALARMS: readonly [string, string][] = [['Kernel panic ', '- not syncing'], ['soft ', 'lockup'], ['detected ', 'stalls']];

function guestKernels(): { bzImage: string } {
  const bzImage = process.env.KVMTS_GUEST_KERNEL;
  if (!bzImage) throw new ConfigError('KVMTS_GUEST_KERNEL', 'unset: this suite runs inside the nested x86 host (node scripts/nested/run.js x86)');
  return { bzImage };
}

function writeInitramfs(dir: string): string {
  const file = path.join(dir, 'initrd.cpio');
  fs.writeFileSync(file, newcArchive([
    { path: 'bin', kind: 'dir' },
    { path: 'bin/busybox', kind: 'file', mode: 0o755, data: fs.readFileSync('/bin/busybox') },
    { path: 'dev', kind: 'dir' },
    { path: 'dev/console', kind: 'char', major: 5, minor: 1 },
    { path: 'proc', kind: 'dir' },
    { path: 'init', kind: 'file', mode: 0o755, data: Buffer.from(SHELL_INIT) },
  ]));
  return file;
}

interface Step {
  /** Console text to wait for (after the previous step's). */
  readonly waitFor: string;
  /** Then type this line. */
  readonly type?: string;
}

interface Session {
  readonly status: number | null;
  readonly console: string;
  readonly summary: { status: number; summary: string; cmdline: string; cpus: number; readyMs: number | null; wallMs: number };
  readonly seconds: number;
}

/**
 * Runs `kvmts boot --json` with the console on stderr, typing each step's line once its text
 * appeared (after the previous step's), as a user at the console would; resolves when it exits.
 */
function bootSession(args: readonly string[], steps: readonly Step[]): Promise<Session> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [CLI, 'boot', ...args, '--json', '--ready-marker', PROMPT], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let console = '';
  let next = 0;
  let searchFrom = 0;
  const advance = () => {
    while (next < steps.length) {
      const at = console.indexOf(steps[next].waitFor, searchFrom);
      if (at < 0) return;
      searchFrom = at + steps[next].waitFor.length;
      const line = steps[next].type;
      next++;
      // The last line typed closes stdin too: kvmts boot keeps running the guest after EOF.
      if (line !== undefined) {
        if (steps.slice(next).some((s) => s.type !== undefined)) child.stdin.write(`${line}\n`);
        else child.stdin.end(`${line}\n`);
      }
    }
  };
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('latin1')));
  let echoed = 0;
  child.stderr.on('data', (c: Buffer) => {
    console += c.toString('latin1');
    // Complete lines to this process's stdout file descriptor, past jest's buffering.
    const end = console.lastIndexOf('\n') + 1;
    if (end > echoed) {
      fs.writeSync(1, l1Safe(`${console.slice(echoed, end - 1).split('\n').map((l) => `  [L2] ${l}`).join('\n')}\n`));
      echoed = end;
    }
    advance();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), BOOT_LIMIT_MS);
  // The runner stops an emulated host whose console is silent for 240 s; a slow, quiet boot is not that.
  const heartbeat = setInterval(() => fs.writeSync(1, `  [L2] (booting: ${((Date.now() - t0) / 1000).toFixed(0)} s, ${console.length} console bytes)\n`), HEARTBEAT_MS);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      clearInterval(heartbeat);
      const tail = l1Safe(console.slice(-3000));
      const last = stdout.trim().split('\n').pop() ?? '';
      let summary: Session['summary'];
      try {
        summary = JSON.parse(last) as Session['summary'];
      } catch {
        reject(new Error(`kvmts boot ${args.join(' ')} exited ${status} after ${((Date.now() - t0) / 1000).toFixed(1)} s ` +
          `without a JSON summary (step ${next} of ${steps.length} was waiting for '${steps[next]?.waitFor}'); console tail:\n${tail}`));
        return;
      }
      resolve({ status, console, summary, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

/**
 * bootSession, once more when the first boot never reached userspace. In this tier's L1 (QEMU
 * 7.2's TCG emulation of SVM) an L2 kernel now and then freezes in early boot, spinning with its
 * interrupts lost (docs/testing.md, "Linux as an L2 guest"): seen once in CI on 2026-12-02, after
 * passing boots. That is the emulator's fault, not kvmts'; it is said on the console, and a second
 * boot that fails too fails the test. A boot that reached userspace is never retried.
 */
async function bootSessionRetryingFrozenBoot(args: readonly string[], steps: readonly Step[]): Promise<Session> {
  try {
    const s = await bootSession(args, steps);
    if (s.console.includes(USERSPACE_LINE)) return s;
    fs.writeSync(1, `  [L2] the boot ended (status ${s.status}) without reaching userspace after ${s.seconds.toFixed(0)} s: booting once more\n`);
  } catch (e) {
    if (!(e instanceof Error) || !e.message.includes('without a JSON summary') || e.message.includes(USERSPACE_LINE)) throw e;
    fs.writeSync(1, `  [L2] the boot never reached userspace (${l1Safe(e.message.split(';')[0])}): booting once more\n`);
  }
  return bootSession(args, steps);
}

/** The panic line sysrq c causes; built in pieces, so that no code frame shows it to the runner. */
const SYSRQ_PANIC = ['Kernel panic', 'not syncing: sysrq triggered crash'].join(' - ');

/**
 * Fails naming `text` when the console lacks it, without quoting the console (report() printed
 * its tail, made L1-safe): jest's toContain would print the L2's panic verbatim.
 */
function expectConsole(s: Session, text: string): void {
  if (!s.console.includes(text)) throw new Error(`the L2 console lacks '${l1Safe(text)}' (its tail is printed above)`);
}

/** The console's tail, for a failed expectation's context. */
function report(what: string, s: Session): void {
  process.stdout.write(`${what}: status ${s.status} after ${s.seconds.toFixed(1)} s (prompt after ${((s.summary.readyMs ?? NaN) / 1000).toFixed(1)} s of the run); ` +
    `${s.summary.summary}; console tail:\n${l1Safe(s.console.slice(-3000))}\n`);
}

describeKvm('nested x86: Linux booted by `kvmts boot` to a busybox shell', () => {
  let dir: string;
  let initrd: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-linux-shell-'));
    initrd = writeInitramfs(dir);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('bzImage, 1 vCPU: typed commands run and answer, nproc says 1, `poweroff -f` ends the run with status 0', async () => {
    const { bzImage } = guestKernels();
    expect(parseBzImageHeader(new Uint8Array(fs.readFileSync(bzImage))).version).toBeGreaterThanOrEqual(0x020c);
    const s = await bootSessionRetryingFrozenBoot(['--kernel', bzImage, '--initrd', initrd, '--append', 'quiet', '--mem', '256M', '--cpus', '1'], [
      { waitFor: PROMPT, type: 'echo "typed: $((6 * 7)) on $(nproc) cpus"' },
      // Any answer, then power off: a wrong CPU count fails the expectation below instead of
      // leaving the run waiting (the runner's idle timeout would stop the whole emulated host).
      { waitFor: 'typed: 42 on ' },
      { waitFor: PROMPT, type: 'poweroff -f' },
    ]);
    report('bzImage, 1 vCPU', s);
    expectConsole(s, 'kvmts-l2: shell on x86_64');
    // The answers, not the echo of what was typed: the typed line has `$((6 * 7))`, not 42.
    expectConsole(s, 'typed: 42 on 1 cpus');
    expect(s.summary).toMatchObject({ cpus: 1, cmdline: 'console=ttyS0 quiet panic=-1', status: 0, summary: 'the guest powered off (status 0)' });
    expect(s.summary.readyMs).toBeGreaterThan(0);
    expect(s.status).toBe(0);
  }, 2 * BOOT_LIMIT_MS + 30_000);

  it('bzImage, 1 vCPU: a kernel panic (sysrq c) ends the run with status 2', async () => {
    const { bzImage } = guestKernels();
    const s = await bootSessionRetryingFrozenBoot(['--kernel', bzImage, '--initrd', initrd, '--append', 'quiet', '--mem', '256M', '--cpus', '1'], [
      { waitFor: PROMPT, type: 'echo "typed: nproc=$(nproc)"' },
      { waitFor: 'typed: nproc=', type: 'echo c > /proc/sysrq-trigger' },
    ]);
    report('bzImage, 1 vCPU, panic', s);
    expectConsole(s, 'typed: nproc=1');
    expectConsole(s, SYSRQ_PANIC);
    expect(s.summary).toMatchObject({ cpus: 1, status: 2, summary: 'the guest reset (a kernel panic with panic=-1, or a reboot)' });
    expect(s.status).toBe(2);
  }, 2 * BOOT_LIMIT_MS + 30_000);
});

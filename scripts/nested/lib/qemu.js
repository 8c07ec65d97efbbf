'use strict';
/**
 * Boots the emulated host, streams its serial console to our stdout and to a log file, and
 * reads the "@@KVMTS@@ <what> ..." marker lines that guest/init.sh prints.
 */
const fs = require('fs');
const { spawn } = require('child_process');

const MARK = '@@KVMTS@@';
/** A kernel message that means the emulated host is gone: stop now, do not wait for the timeout. */
const PANIC = /Kernel panic - not syncing/;
/**
 * Stall reports. One or two come from an emulated host starved of CPU — two emulated hosts on
 * this machine's two cores, each CPU emulated by one thread: CI once lost a passing tier to a
 * single `soft lockup - CPU#0 stuck for 22s!` that the host recovered from — so they are
 * tolerated; a wedged kernel repeats them every ~20 s, and the STALLS_WEDGED-th ends the run.
 * (A repeating report is console output, so without this count the idle timeout would never
 * fire on a wedged host: only the total one.)
 */
const STALL = /watchdog: BUG: soft lockup|rcu: INFO: rcu_\w+ detected stalls/;
const STALLS_WEDGED = 4;

/**
 * What a console line means for the run: 'wedged' (stop it), 'stall' (a tolerated stall report,
 * the `stalls`-th counting this one) or undefined (nothing).
 */
function consoleVerdict(line, stallsBefore) {
  if (PANIC.test(line)) return { verdict: 'wedged', stalls: stallsBefore };
  if (!STALL.test(line)) return { verdict: undefined, stalls: stallsBefore };
  const stalls = stallsBefore + 1;
  return { verdict: stalls >= STALLS_WEDGED ? 'wedged' : 'stall', stalls };
}

// An interrupted runner must not leave emulated hosts spinning on the machine's cores: one
// signal handler for all the QEMUs running at once (a tier may boot several).
const live = new Set();
const onSignal = (sig) => {
  for (const c of live) c.kill('SIGKILL');
  process.exit(sig === 'SIGINT' ? 130 : 143);
};
function watch(child) {
  if (live.size === 0) { process.once('SIGINT', onSignal); process.once('SIGTERM', onSignal); }
  live.add(child);
}
function unwatch(child) {
  live.delete(child);
  if (live.size === 0) { process.removeListener('SIGINT', onSignal); process.removeListener('SIGTERM', onSignal); }
}

/**
 * @param o.bin / o.args QEMU binary and machine arguments
 * @param o.env more environment for QEMU (e.g. QEMU_MODULE_DIR of an unpacked build)
 * @param o.kernel / o.initrd / o.append boot material
 * @param o.shares [{tag, path, writable}] 9p exports (read-only unless writable)
 * @param o.logFile where the whole console goes
 * @param o.prefix put before each console line shown on our stdout/stderr (tells concurrent
 *        emulated hosts apart; the log file gets the lines as they are)
 * @param o.timeoutMs the emulated host is killed (and the run fails) after this
 * @param o.idleMs ... or after this long without any console output (a hung KVM_RUN blocks
 *        jest's own test timeouts, so a silent guest is a hung guest)
 * @param o.onMarker(kind, fields, elapsedMs) called for each marker line
 * @returns Promise<{code, signal, timedOut: false|'total'|'idle'|'wedged', markers: Map<kind, fields[]>}>
 */
function boot(o) {
  // No network (-nic none): nothing in the emulated host uses one, and the default NIC needs its
  // boot ROM (efi-virtio.rom, from ipxe-qemu, which a --no-install-recommends QEMU lacks).
  const args = [...o.args, '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot', '-nic', 'none',
    '-kernel', o.kernel, '-initrd', o.initrd, '-append', o.append];
  o.shares.forEach((s, i) => {
    args.push('-fsdev', `local,id=fs${i},path=${s.path},security_model=none${s.writable ? '' : ',readonly=on'}`,
      '-device', `virtio-9p-pci,fsdev=fs${i},mount_tag=${s.tag}`);
  });
  const log = fs.openSync(o.logFile, 'w');
  fs.writeSync(log, `# ${o.bin} ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
  const t0 = Date.now();
  const child = spawn(o.bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
  watch(child);
  const markers = new Map();
  let timedOut = false;
  let lastOutput = Date.now();
  const timer = setTimeout(() => { timedOut = 'total'; child.kill('SIGKILL'); }, o.timeoutMs);
  const idle = setInterval(() => {
    if (Date.now() - lastOutput > o.idleMs) { timedOut = 'idle'; child.kill('SIGKILL'); }
  }, 1000);

  let partial = '';
  const onData = (chunk) => {
    lastOutput = Date.now();
    fs.writeSync(log, chunk);
    const text = partial + chunk.toString('utf8').replace(/\r/g, '');
    const lines = text.split('\n');
    partial = lines.pop();
    for (const line of lines) handleLine(line);
  };
  let stalls = 0;
  const handleLine = (line) => {
    const seen = consoleVerdict(line, stalls);
    stalls = seen.stalls;
    if (!timedOut && seen.verdict === 'wedged') {
      timedOut = 'wedged';
      setTimeout(() => child.kill('SIGKILL'), 8000); // let the kernel finish its report in the log
    } else if (seen.verdict === 'stall') {
      process.stdout.write(`${o.prefix ?? ''}[runner] the emulated host reported a stall (${stalls} of ${STALLS_WEDGED - 1} tolerated: a starved host recovers, a wedged one repeats it)\n`);
    }
    const at = line.indexOf(MARK);
    if (at < 0) { process.stdout.write(`${o.prefix ?? ''}${line}\n`); return; }
    const [kind, ...fields] = line.slice(at + MARK.length).trim().split(/\s+/);
    markers.set(kind, fields);
    o.onMarker?.(kind, fields, Date.now() - t0);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', (c) => { fs.writeSync(log, c); process.stderr.write(o.prefix ? `${o.prefix}${c}` : c); });

  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(idle);
      unwatch(child);
      if (partial) handleLine(partial);
      fs.closeSync(log);
      resolve({ code, signal, timedOut, markers, elapsedMs: Date.now() - t0 });
    });
    child.on('error', (e) => { fs.writeSync(log, `spawn error: ${e.message}\n`); });
  });
}

module.exports = { boot, consoleVerdict, MARK, STALLS_WEDGED };

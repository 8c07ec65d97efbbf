/**
 * The CLI's stdout and stderr, written without Node's stdio streams where they have not been
 * made, and the one rule for a reader that went away.
 *
 * Why: on a pipe (a benchmark's, a test's, `kvmts boot | tee log`) `process.stdout` is a
 * net.Socket, and its first use loads `net` and Node's streams: 117 ms of a boot's start-up in
 * the emulated arm64 host, beyond what else loads them (scripts/bench/README.md, `boot`). The
 * guest's console written straight to the fd is also one syscall per chunk, nothing queued.
 *
 * Order: once a stream exists (anything used `process.stdout`), every write to its fd goes
 * through it, so nothing written directly can overtake what the stream still holds. A direct
 * write that cannot go on (EAGAIN: a non-blocking fd that is full; any error but EPIPE) hands
 * the rest, and every later write, to the stream.
 *
 * A closed reader (EPIPE), direct or through a stream, ends the process quietly with its exit
 * status so far, as a C program dies of SIGPIPE: writing more is pointless, and Node would
 * throw EPIPE from a stream event with a stack trace. The kernel releases the guest's fds and
 * memory with the process.
 */
import * as fs from 'node:fs';

type StdioName = 'stdout' | 'stderr';
const NAMES: Record<1 | 2, StdioName> = { 1: 'stdout', 2: 'stderr' };

/** Which streams exist (their getter ran) and which fds go through them from now on. */
const streamMade: Record<StdioName, boolean> = { stdout: false, stderr: false };
const viaStream: Record<StdioName, boolean> = { stdout: false, stderr: false };
let installed = false;

function endQuietly(): never {
  process.exit(process.exitCode ?? 0);
}

function onStreamError(err: NodeJS.ErrnoException): void {
  if (err.code === 'EPIPE') endQuietly();
  throw err;
}

/**
 * Puts the closed-reader rule on process.stdout and process.stderr when each is first made
 * (their getters are wrapped, not called: calling one is what loads the streams). Once per
 * process; the CLI's main() calls it first.
 */
export function installStdioRules(): void {
  if (installed) return;
  installed = true;
  for (const name of ['stdout', 'stderr'] as const) {
    const own = Object.getOwnPropertyDescriptor(process, name);
    if (own?.get === undefined || !own.configurable) {
      // Not Node's lazy getter (a test runner's replacement, say): the stream is there already.
      streamMade[name] = true;
      viaStream[name] = true;
      process[name].on('error', onStreamError);
      continue;
    }
    const made = own.get;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: own.enumerable,
      get(): NodeJS.WriteStream {
        const stream = made.call(process) as NodeJS.WriteStream;
        if (!streamMade[name]) {
          streamMade[name] = true;
          viaStream[name] = true;
          stream.on('error', onStreamError);
        }
        return stream;
      },
    });
  }
}

/**
 * Writes `data` to fd 1 or 2: straight to the fd while no stream was made for it, else (and
 * from the first write that could not go straight on, and always before installStdioRules())
 * through process.stdout / process.stderr.
 */
export function writeStdio(fd: 1 | 2, data: string | Uint8Array): void {
  const name = NAMES[fd];
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let at = 0;
  // Direct only where installStdioRules() watches for the streams being made (the CLI's main()).
  if (installed && !viaStream[name]) {
    try {
      while (at < bytes.length) at += fs.writeSync(fd, bytes, at, bytes.length - at);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') endQuietly();
      // EAGAIN, EBADF, …: the stream knows how (it queues, or drops writes to a closed fd as Node does).
      viaStream[name] = true;
    }
  }
  process[name].write(at === 0 ? bytes : bytes.subarray(at));
}

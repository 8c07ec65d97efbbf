/**
 * The CLI's stdout and stderr, written without Node's stdio streams where they have not been
 * made, and the one rule for a reader that went away.
 *
 * Why: on a pipe (a benchmark's, a test's, `kvmts boot | tee log`) `process.stdout` is a
 * net.Socket, and its first use loads `net` and Node's streams: 117 ms of a boot's start-up in
 * the emulated arm64 host, beyond what else loads them (scripts/bench/README.md, `boot`). The
 * guest's console written straight to the fd is also one syscall per chunk.
 *
 * How, by what the fd is:
 *  - a pipe: written through a second, non-blocking open of the same pipe (/proc/self/fd/N: its
 *    own file status flags, so nobody else sharing the pipe is switched to non-blocking). A
 *    reader that falls behind (EAGAIN) hands that write and every later one to the stream, which
 *    queues them as Node always did: the guest and the CLI (Ctrl-C included) go on.
 *  - a socket (a Node parent's stdio "pipe" is a socketpair): its end is kvmts' own, so it is
 *    made non-blocking, as libuv makes it for a stream, and written directly; EAGAIN hands on
 *    to the stream as for a pipe.
 *  - a file or a terminal: written directly, blocking, as Node's own stream writes them.
 *  - anything else: through the stream.
 * Order: once a stream exists (anything used `process.stdout`: a Worker started with piped
 * output, `console`, commander), every write to its fd goes through it, so nothing written
 * directly can overtake what the stream still holds. What is known about the streams lives on
 * `process` (under a registered symbol): dist/bin.js and the CLI bundle each carry this module.
 *
 * A closed reader (EPIPE), direct or through a stream, ends the process quietly with its exit
 * status so far, as a C program dies of SIGPIPE: writing more is pointless, and Node would
 * throw EPIPE from a stream event with a stack trace. The kernel releases the guest's fds and
 * memory with the process.
 */
import * as fs from 'node:fs';

type StdioName = 'stdout' | 'stderr';
const NAMES: Record<1 | 2, StdioName> = { 1: 'stdout', 2: 'stderr' };

interface StdioState {
  installed: boolean;
  /** Per stream: writes go through it (it was made, or a direct write could not go on). */
  viaStream: Record<StdioName, boolean>;
  /** Per stream: the fd direct writes use (the pipe's non-blocking open, or 1/2), once chosen. */
  directFd: Record<StdioName, number | undefined>;
}

const STATE_KEY = Symbol.for('kvmts.cli.stdio');

function state(): StdioState {
  const holder = process as unknown as Record<symbol, StdioState | undefined>;
  holder[STATE_KEY] ??= { installed: false, viaStream: { stdout: false, stderr: false }, directFd: { stdout: undefined, stderr: undefined } };
  return holder[STATE_KEY];
}

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
 * process, before anything can make a stream: dist/bin.js calls it first, the CLI's main() again.
 */
export function installStdioRules(): void {
  const s = state();
  if (s.installed) return;
  s.installed = true;
  for (const name of ['stdout', 'stderr'] as const) {
    const own = Object.getOwnPropertyDescriptor(process, name);
    if (own?.get === undefined || !own.configurable) {
      // Not Node's lazy getter (a test runner's replacement, say): the stream is there already.
      s.viaStream[name] = true;
      process[name].on('error', onStreamError);
      continue;
    }
    const made = own.get;
    let seen = false;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: own.enumerable,
      get(): NodeJS.WriteStream {
        const stream = made.call(process) as NodeJS.WriteStream;
        if (!seen) {
          seen = true;
          s.viaStream[name] = true;
          stream.on('error', onStreamError);
        }
        return stream;
      },
    });
  }
}

/** The fd to write `fd`'s output to directly, or undefined when only the stream will do. */
function directFdFor(fd: 1 | 2): number | undefined {
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch {
    return undefined;
  }
  if (st.isFile() || st.isCharacterDevice()) return fd;
  if (st.isSocket()) {
    try {
      // The addon is loaded by then wherever this writes (a machine runs); dist/bin.js never gets here.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      (require('@kvmts/native') as typeof import('@kvmts/native')).setNonBlocking(fd, true);
      return fd;
    } catch {
      return undefined;
    }
  }
  if (!st.isFIFO()) return undefined;
  try {
    // A new open of the pipe, with flags of its own (O_CLOEXEC: libuv adds it to every open).
    return fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
}

/**
 * Writes `data` to fd 1 or 2: directly while no stream was made for it (see above), else (and
 * from the first write that could not go straight on, and always before installStdioRules())
 * through process.stdout / process.stderr.
 */
export function writeStdio(fd: 1 | 2, data: string | Uint8Array): void {
  const s = state();
  const name = NAMES[fd];
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let at = 0;
  // Direct only where installStdioRules() watches for the streams being made.
  if (s.installed && !s.viaStream[name]) {
    const target = (s.directFd[name] ??= directFdFor(fd));
    if (target === undefined) s.viaStream[name] = true;
    else {
      try {
        while (at < bytes.length) at += fs.writeSync(target, bytes, at, bytes.length - at);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') endQuietly();
        // EAGAIN (a reader behind), or anything else: the stream queues, or handles it as Node does.
        s.viaStream[name] = true;
        // The pipe's own open is not written again.
        if (target !== fd) fs.closeSync(target);
      }
    }
  }
  process[name].write(at === 0 ? bytes : bytes.subarray(at));
}

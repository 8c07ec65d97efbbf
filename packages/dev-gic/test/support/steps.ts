/**
 * Step markers and bounded waits for the nested suites. Inside the emulated host a wait that
 * never ends is only seen as the runner's idle timeout (no output for minutes), which names the
 * test but not the step. So every step prints a line when it starts and ends — straight to fd 2,
 * as the tier's progress reporter does, because jest's buffered output would hide it — and every
 * asynchronous wait is raced against a deadline that fails the test with the step's name.
 * (A synchronous call that blocks the main thread cannot be bounded: its start line without
 * an end line names it.)
 */
import * as fs from 'node:fs';

/** One line on stderr, now: `@@STEP@@ <ISO time> <what>`. */
export function mark(what: string): void {
  const line = Buffer.from(`@@STEP@@ ${new Date().toISOString()} ${what}\n`);
  for (let at = 0; at < line.length; ) {
    try {
      at += fs.writeSync(2, line, at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}

/**
 * Await `work` (a promise or a function giving one) as step `name`, failing with an Error naming
 * the step after `ms`; `onTimeout` may then end what is stuck (stop a machine) before the error.
 */
export async function step<T>(name: string, ms: number, work: Promise<T> | (() => Promise<T> | T), onTimeout?: () => Promise<unknown> | void): Promise<T> {
  mark(`${name} …`);
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    const pending = typeof work === 'function' ? Promise.resolve().then(work) : work;
    const r = await Promise.race([pending, deadline]);
    if (r === 'timeout') {
      mark(`${name} TIMED OUT after ${ms} ms`);
      await onTimeout?.();
      throw new Error(`step '${name}' did not finish within ${ms} ms`);
    }
    mark(`${name} done (${Date.now() - started} ms)`);
    return r as T;
  } catch (e) {
    if (!(e instanceof Error && e.message.startsWith(`step '${name}'`))) mark(`${name} FAILED: ${(e as Error)?.message ?? String(e)}`);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * SIGINT and SIGTERM during a run: the guest is stopped cleanly (the run resolves, the machine
 * closes, nothing leaks), one line says so, and the exit status follows the shell convention
 * (128 + signal number: 130, 143). A second signal while stopping takes Node's default action.
 */
const STATUS: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

export class SignalStop {
  private readonly controller = new AbortController();
  private received: NodeJS.Signals | undefined;
  private readonly handler = (signal: NodeJS.Signals): void => {
    this.received = signal;
    process.stderr.write(`kvmts: ${signal}: stopping the guest\n`);
    this.dispose(); // a second signal is not caught
    this.controller.abort(signal);
  };

  constructor() {
    for (const s of Object.keys(STATUS) as NodeJS.Signals[]) process.once(s, this.handler);
  }

  /** Aborted when a signal arrives: hand it to the run (DemoOptions.signal). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** 130/143 after SIGINT/SIGTERM, else undefined. */
  get exitStatus(): number | undefined {
    return this.received === undefined ? undefined : STATUS[this.received];
  }

  dispose(): void {
    for (const s of Object.keys(STATUS) as NodeJS.Signals[]) process.off(s, this.handler);
  }
}

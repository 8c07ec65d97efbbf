/**
 * IrqLineSwitch (vm/irq-line-switch.ts) and the machine-wide claim over every thread's switch
 * (machine/machine-irq-lines.ts), with golden sequences of where each line goes.
 */
import { ConfigError, IrqLineSwitch, LifecycleError, ThreadedIrqLines, type IrqLineThread, type IrqLines } from '@kvmts/core';

function recorder(): IrqLines & { seen: [number, boolean][] } {
  const seen: [number, boolean][] = [];
  return { seen, set: (line, level) => seen.push([line, level]) };
}

describe('IrqLineSwitch', () => {
  it('sends lines to the base until a controller claims them, then to the controller', () => {
    const base = recorder();
    const controller = recorder();
    const lines = new IrqLineSwitch(base);
    lines.set(33, true);
    const under = lines.claim(controller, 'gic');
    lines.set(33, false);
    under.set(0x0100_0000, true); // the controller's own output goes underneath
    expect(base.seen).toEqual([[33, true], [0x0100_0000, true]]);
    expect(controller.seen).toEqual([[33, false]]);
  });

  it('refuses a second interrupt controller, naming both', () => {
    const lines = new IrqLineSwitch(recorder());
    lines.claim(recorder(), 'gic-a');
    expect(() => lines.claim(recorder(), 'gic-b')).toThrow(ConfigError);
    expect(() => lines.claim(recorder(), 'gic-b')).toThrow(/'gic-b' cannot be .*'gic-a' already is/);
  });

  it('a claim released gives the lines back to the base; the lines may be claimed again (golden sequence)', () => {
    const base = recorder();
    const mux = recorder();
    const lines = new IrqLineSwitch(base);
    expect(lines.claimant).toBe('');
    lines.set(44, true); // base
    lines.claim(mux, 'mux');
    expect(lines.claimant).toBe('mux');
    lines.set(44, false); // mux
    lines.set(45, true); // mux
    lines.release('mux');
    expect(lines.claimant).toBe('');
    lines.set(45, false); // base
    lines.claim(mux, 'mux');
    lines.set(46, true); // mux
    expect(base.seen).toEqual([
      [44, true],
      [45, false],
    ]);
    expect(mux.seen).toEqual([
      [44, false],
      [45, true],
      [46, true],
    ]);
  });

  it('refuses a release by another than the claimant, or of unclaimed lines, naming them; the claim stays', () => {
    const base = recorder();
    const gic = recorder();
    const lines = new IrqLineSwitch(base);
    expect(() => lines.release('mux')).toThrow(LifecycleError);
    expect(() => lines.release('mux')).toThrow("interrupt lines: cannot release them for 'mux' while not claimed");
    lines.claim(gic, 'gic');
    expect(() => lines.release('mux')).toThrow("interrupt lines: cannot release them for 'mux' while claimed by 'gic'");
    lines.set(33, true);
    expect(gic.seen).toEqual([[33, true]]);
    expect(base.seen).toEqual([]);
  });
});

/** A vCPU thread as ThreadedIrqLines sees it: its own IrqLineSwitch, whose claim forwards to the main thread's (as the worker's 'irq-line' event does). */
function thread(name: string, log: string[], main: IrqLines, fail?: 'forwardIrqLines' | 'releaseIrqLines') {
  const kvm = recorder();
  const own = new IrqLineSwitch(kvm);
  const t: IrqLineThread & { own: IrqLineSwitch; kvm: typeof kvm } = {
    own,
    kvm,
    call: async (method, by) => {
      log.push(`${name}.${method}(${by})`);
      if (method === fail) throw new ConfigError(name, `${method} fails`);
      if (method === 'forwardIrqLines') own.claim({ set: (line, level) => main.set(line, level) }, by);
      else own.release(by);
    },
  };
  return t;
}

describe('ThreadedIrqLines: every thread’s device lines claimed and released as one', () => {
  it('claims the main thread’s lines at once and each vCPU thread’s by forwarding; released, each thread’s go to its KVM again (golden sequence)', async () => {
    const log: string[] = [];
    const mainKvm = recorder();
    const model = recorder();
    const main = new IrqLineSwitch(mainKvm);
    const threads = [thread('vcpu0', log, main), thread('vcpu1', log, main)];
    const lines = new ThreadedIrqLines(main, () => threads);

    const claiming = lines.claim(model, 'mux');
    expect(main.claimant).toBe('mux'); // synchronously
    main.set(44, true);
    await claiming;
    threads[1].own.set(45, true); // a vCPU thread's device: forwarded to the main thread, then the model
    threads[0].own.set(0x0100_0010, true);
    const releasing = lines.release('mux');
    expect(main.claimant).toBe(''); // synchronously: a line forwarded later goes to KVM
    main.set(44, false);
    await releasing;
    threads[1].own.set(45, false);

    expect(log).toEqual(['vcpu0.forwardIrqLines(mux)', 'vcpu1.forwardIrqLines(mux)', 'vcpu0.releaseIrqLines(mux)', 'vcpu1.releaseIrqLines(mux)']);
    expect(model.seen).toEqual([
      [44, true],
      [45, true],
      [0x0100_0010, true],
    ]);
    expect(mainKvm.seen).toEqual([[44, false]]);
    expect(threads[1].kvm.seen).toEqual([[45, false]]);
    expect(threads[0].kvm.seen).toEqual([]);
  });

  it('a thread that cannot forward fails the claim and leaves nothing claimed', async () => {
    const log: string[] = [];
    const main = new IrqLineSwitch(recorder());
    const threads = [thread('vcpu0', log, main), thread('vcpu1', log, main, 'forwardIrqLines')];
    const lines = new ThreadedIrqLines(main, () => threads);
    await expect(lines.claim(recorder(), 'mux')).rejects.toThrow('vcpu1: forwardIrqLines fails');
    expect(log).toEqual(['vcpu0.forwardIrqLines(mux)', 'vcpu1.forwardIrqLines(mux)', 'vcpu0.releaseIrqLines(mux)']);
    expect(main.claimant).toBe('');
    expect(threads.map((t) => t.own.claimant)).toEqual(['', '']);
  });

  it('refuses a second claim (ConfigError naming both) and a release by another (LifecycleError), before asking any thread', async () => {
    const log: string[] = [];
    const main = new IrqLineSwitch(recorder());
    const threads = [thread('vcpu0', log, main)];
    const lines = new ThreadedIrqLines(main, () => threads);
    await lines.claim(recorder(), 'mux');
    log.length = 0;
    await expect(lines.claim(recorder(), 'other')).rejects.toThrow(/'other' cannot be .*'mux' already is/);
    await expect(lines.release('other')).rejects.toThrow("machine interrupt lines: cannot release them for 'other' while claimed by 'mux'");
    expect(log).toEqual([]);
    await lines.release('mux');
    await expect(lines.release('mux')).rejects.toThrow(LifecycleError);
  });
});

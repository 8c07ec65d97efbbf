/**
 * The two CPU-switching races (docs/cpu-switching.md, "Concurrent calls"), on real KVM with the
 * ckpt-gaps-tests guest:
 *
 *  (a) drain()/switchOut() while the machine runs, against an m5op whose handler resumes the
 *      guest (switchcpu). The m5op pauses the vCPU on the main thread; a drain that lands in that
 *      pause used to find nothing running, and the machine's run then resumed the guest behind
 *      it — on a vCPU whose thread had been handed away. Outcome now: the drained vCPU stays
 *      stopped (the handler's "continue" does not resume it), its run ends `stopped`, and the
 *      next run() — or the CPU that takes its thread — continues after the m5op.
 *  (b) two takeOverFrom calls onto one target at once. Both used to claim their source's thread
 *      before either finished (the target still looked free), and the first thread was lost.
 *      Outcome now: the first call wins, the second is a LifecycleError naming the takeover in
 *      flight, and its source keeps its thread.
 */
import { LifecycleError, createMachine, type Machine, type MachineConfig } from '@kvmts/core';
import { assembleGuest, exitDevice, m5ops, type X86Boot, type X86ThreadContextData } from '@kvmts/arch-x86';

const guest = assembleGuest('ckpt-gaps-tests');
const sym = (name: string): number => guest.symbols.get(name)!;
const SCRATCH = 0x10_0000;
const quiet = { console: () => undefined };

function config(entry: string): MachineConfig<X86Boot> {
  return {
    arch: 'x86_64',
    memory: '16M',
    devices: [...m5ops(), exitDevice({}, 'exit')],
    boot: { kind: 'flat', mode: 'long', cpl: 0, image: guest.bytes, entry: sym(entry), registers: [{ rdi: BigInt(SCRATCH) }] },
  };
}

const scratch = (m: Machine): bigint => m.memory.view(SCRATCH, 8).getBigUint64(0, true);
const handed = (m: Machine): X86ThreadContextData => m.cpu(0).handedOverContext!.toJSON() as X86ThreadContextData;

describeKvm('CPU switching races (x86)', () => {
  let machines: Machine[] = [];
  afterEach(async () => {
    await Promise.all(machines.map((m) => m.close()));
    machines = [];
  });
  async function machine(entry: string): Promise<Machine> {
    const m = await createMachine(config(entry), quiet);
    machines.push(m);
    return m;
  }

  it('switchOut() inside a switchcpu handler that resumes the guest: the vCPU stays stopped, the run ends stopped, the taker continues after the m5op', async () => {
    const a = await machine('switch_once');
    let inHandler: Promise<void> | undefined;
    a.m5ops.handle('switchcpu', () => {
      inHandler = a.cpu(0).switchOut(); // not awaited: the handler returns "continue" at once
    });
    expect(await a.run()).toEqual({ reason: 'stopped' });
    await inHandler;
    expect(a.cpu(0).switchState).toBe('switched-out');
    expect(scratch(a)).toBe(1n); // the guest did not run on past its m5op
    expect(handed(a).regs.rip).toBe(BigInt(sym('after_switch')));

    const b = await machine('switch_once');
    await b.cpu(0).takeOverFrom(a.cpu(0));
    expect(await b.run()).toEqual({ reason: 'poweroff', status: 0 });
    expect(scratch(b)).toBe(2n);
  });

  it('drain() awaited inside the handler: the run ends stopped at the m5op; the next run() continues after it', async () => {
    const m = await machine('switch_once');
    m.m5ops.handle('switchcpu', async () => {
      await m.cpu(0).drain();
    });
    expect(await m.run()).toEqual({ reason: 'stopped' });
    expect(scratch(m)).toBe(1n);
    m.m5ops.unhandle('switchcpu'); // not reached again: the guest continues after it
    expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
    expect(scratch(m)).toBe(2n);
  });

  it('switchOut() racing a guest that calls a resuming m5op in a loop: every round ends stopped, switched out, at a consistent instruction; the thread moves on between two machines', async () => {
    const a = await machine('m5op_loop');
    const b = await machine('m5op_loop');
    let calls = 0;
    for (const m of [a, b]) m.m5ops.handle('switchcpu', () => void calls++);
    let from = a;
    let to = b;
    let last = 0n;
    for (let round = 0; round < 12; round++) {
      const running = from.run();
      // Varied delays: the kick lands in KVM_RUN, between runs, or while the m5op is dispatched.
      await new Promise((r) => setTimeout(r, 20 + 17 * (round % 5)));
      await from.cpu(0).switchOut();
      expect(await running).toEqual({ reason: 'stopped' });
      const regs = handed(from).regs;
      const stored = scratch(from);
      expect([regs.r12, regs.r12 - 1n]).toContain(stored); // between `inc r12` and its store, or after it
      expect(regs.r12).toBeGreaterThanOrEqual(last); // the thread's count never goes back
      last = regs.r12;
      await to.cpu(0).takeOverFrom(from.cpu(0));
      expect(scratch(to)).toBe(stored);
      [from, to] = [to, from];
    }
    expect(calls).toBeGreaterThan(0);
    expect(last).toBeGreaterThan(0n);
  });

  it('two takeOverFrom calls onto one vCPU at once: the first wins, the second is a LifecycleError and its source keeps the thread', async () => {
    const a = await machine('m5op_loop');
    const b = await machine('switch_once');
    const target = await machine('switch_once');
    a.m5ops.handle('switchcpu', () => undefined);
    const running = a.run();
    await new Promise((r) => setTimeout(r, 30));
    await a.cpu(0).switchOut();
    await running;
    await b.cpu(0).switchOut();
    const aRegs = handed(a).regs;

    const [first, second] = await Promise.allSettled([target.cpu(0).takeOverFrom(a.cpu(0)), target.cpu(0).takeOverFrom(b.cpu(0))]);
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('rejected');
    const error = (second as PromiseRejectedResult).reason as Error;
    expect(error).toBeInstanceOf(LifecycleError);
    expect(error.message).toBe('vCPU 0 (KVM): cannot take over from vCPU 0 (KVM) (one takeover at a time: await the first) while taking over from vCPU 0 (KVM)');
    // The winner's thread is the target's; the loser's stays with b, which can take it back.
    const loaded = (await target.vcpus[0].call<X86ThreadContextData>('threadContext')).regs;
    expect(loaded.rip).toBe(aRegs.rip);
    expect(loaded.r12).toBe(aRegs.r12);
    expect(b.cpu(0).handedOverContext).toBeDefined();
    const spare = await machine('switch_once');
    spare.m5ops.handle('switchcpu', () => undefined); // b's thread starts at switch_once, before its m5op
    await spare.cpu(0).takeOverFrom(b.cpu(0));
    expect(await spare.run()).toEqual({ reason: 'poweroff', status: 0 });
  });

  it('two switchOut calls on one vCPU at once: the second is a LifecycleError, the first hands over a complete context', async () => {
    const m = await machine('switch_once');
    const [first, second] = await Promise.allSettled([m.cpu(0).switchOut(), m.cpu(0).switchOut()]);
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('rejected');
    expect((second as PromiseRejectedResult).reason).toEqual(new LifecycleError('vCPU 0 (KVM)', 'switching out', 'switch out'));
    expect(handed(m).regs.rip).toBe(BigInt(sym('switch_once')));
  });
});

/**
 * CPU switching on real KVM (docs/cpu-switching.md): the switch-tests guest runs a stretch on a
 * machine's KVM vCPU, is drained and switched out, the example interpreter CPU takes it over for
 * N instructions, and KVM takes it back — in the same machine, in a fresh machine of the same
 * process, and through a checkpoint in a fresh process. It must end with the uninterrupted
 * result, the registers at each hand-over must be those read back on the other side, and the
 * interpreter's N instructions must leave the registers KVM leaves after the same N.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { ConfigError, LifecycleError, createMachine, decodeSection, type Machine, type MachineConfig, type SwitchableCpu } from '@kvmts/core';
import { assembleGuest, exitDevice, readExitDeviceState, type X86Boot, type X86Regs, type X86ThreadContextData } from '@kvmts/arch-x86';
import { X86InterpreterCpu, type PortIo } from '../examples/interpreter-cpu';
import { switchTestsFold, switchTestsIteration, switchTestsResult } from './support/switch-support';

const RAM = 4 << 20;
const SCRATCH = 0x10_0000;
const ITERATIONS = 50_000;
/** Instructions KVM runs first (exact: runInstructions single-steps), then the interpreter's share. */
const KVM_FIRST = 400;
const INTERPRETED = 2500;
const KVM_SECOND = 300;
const INTERPRETED_AGAIN = 700;
const CHILD = path.join(__dirname, 'fixtures', 'checkpoint-restore-child.js');
/** Several machines, thousands of single steps and a child process in an emulated host. */
const SLOW = 400_000;
/** The arithmetic flags every instruction of the guest defines (CF PF ZF SF OF; AF is undefined after xor). */
const DEFINED_FLAGS = 0x8c5n;
const quiet = { console: () => undefined };

function config(iterations = ITERATIONS): MachineConfig<X86Boot> {
  const guest = assembleGuest('switch-tests');
  return {
    arch: 'x86_64',
    memory: RAM,
    archOptions: { irqchip: 'kernel' },
    devices: [exitDevice({}, 'exit')],
    boot: { kind: 'flat', mode: 'long', cpl: 0, image: guest.bytes, entry: guest.symbols.get('switch_loop')!, registers: [{ rdi: BigInt(SCRATCH), rcx: BigInt(iterations) }] },
  };
}

const resultOf = (m: Machine): bigint => m.memory.view(SCRATCH, 8).getBigUint64(0, true);
const ramHash = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const threadContext = (m: Machine) => m.vcpus[0].call<X86ThreadContextData>('threadContext');

/** The registers the interpreter models, with rflags cut to the flags the guest defines. */
function modelled(r: X86Regs): Record<string, bigint> {
  return { ...r, rflags: r.rflags & DEFINED_FLAGS };
}

/** The exit device's two ports, for the interpreter: 0xf4 ends the run. */
function exitPorts(): PortIo {
  return { out: (port) => port === 0xf4 };
}

async function expectRejection(p: Promise<unknown>, type: new (...a: never[]) => Error, message: string | RegExp): Promise<void> {
  await expect(p).rejects.toThrow(type);
  await expect(p).rejects.toThrow(message);
}

describeKvm('CPU switching between KVM and the interpreter CPU (x86)', () => {
  let machines: Machine[] = [];
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-switch-'));
  });
  afterEach(async () => {
    await Promise.all(machines.map((m) => m.close()));
    machines = [];
    fs.rmSync(work, { recursive: true, force: true });
  });
  async function machine(iterations = ITERATIONS): Promise<Machine> {
    const m = await createMachine(config(iterations), quiet);
    machines.push(m);
    return m;
  }

  /** The uninterrupted run: its registers after `steps` instructions and its result. */
  async function reference(steps: number): Promise<{ regsAt: X86Regs; result: bigint; exitResult: number }> {
    const ref = await machine();
    expect(await ref.vcpus[0].runInstructions(steps)).toMatchObject({ reason: 'instructions', count: steps });
    const regsAt = (await threadContext(ref)).regs;
    expect(await ref.run()).toEqual({ reason: 'poweroff', status: 0 });
    return { regsAt, result: resultOf(ref), exitResult: readExitDeviceState(ref.deviceState.get('exit')!).result };
  }

  /** KVM runs `kvmSteps`, then the interpreter takes over (checked) and runs `interpreted`. */
  async function kvmThenInterpreter(m: Machine, interp: X86InterpreterCpu, kvmSteps: number, interpreted: number): Promise<void> {
    expect(await m.vcpus[0].runInstructions(kvmSteps)).toMatchObject({ reason: 'instructions', count: kvmSteps });
    const atStop = await threadContext(m);
    const kvm = m.cpu(0);
    await kvm.drain();
    await kvm.switchOut();
    expect(kvm.switchState).toBe('switched-out');
    // The context KVM handed over is the one read from it at the stop.
    expect((kvm.handedOverContext!.toJSON() as X86ThreadContextData).regs).toEqual(atStop.regs);
    await interp.takeOverFrom(kvm);
    expect(interp.threadContext().regs).toEqual(atStop.regs);
    expect(interp.threadContext().sregs).toEqual(atStop.sregs);
    expect(interp.memory).toBe(kvm.memory); // shared with the machine, not copied
    expect(interp.run(interpreted)).toEqual({ reason: 'instructions', executed: interpreted });
  }

  /** The interpreter switches out and `kvm` takes over; returns what was handed over and what KVM then holds. */
  async function backToKvm(interp: X86InterpreterCpu, m: Machine): Promise<{ handed: X86ThreadContextData; read: X86ThreadContextData }> {
    const handed = interp.threadContext().toJSON();
    await interp.drain();
    await interp.switchOut();
    await m.cpu(0).takeOverFrom(interp);
    return { handed, read: await threadContext(m) };
  }

  it(
    'KVM → interpreter → KVM of the same machine → interpreter → KVM of a fresh machine: the uninterrupted result; registers equal at every hand-over; the interpreter steps as KVM does',
    async () => {
      const ref = await reference(KVM_FIRST + INTERPRETED);
      expect(ref.result).toBe(switchTestsResult(ITERATIONS));
      expect(ref.result).toBe(0x22ee11ea432f7a3cn); // as first measured here; pinned in interpreter-cpu.test.ts
      expect(ref.exitResult).toBe(Number(ref.result & 0xffff_ffffn));

      const a = await machine();
      const interp = new X86InterpreterCpu({ io: exitPorts() });
      await kvmThenInterpreter(a, interp, KVM_FIRST, INTERPRETED);
      // Instruction for instruction: the interpreter's 2500 after KVM's 400 = KVM's 2900.
      expect(modelled(interp.threadContext().regs)).toEqual(modelled(ref.regsAt));
      // A switched-out vCPU does not run, and its machine does not run or checkpoint without it.
      await expectRejection(a.run(), LifecycleError, 'vCPU 0 (KVM): cannot run (its thread is with another CPU model: take it back with takeOverFrom first) while switched-out');
      await expectRejection(a.checkpoint(path.join(work, 'refused')), LifecycleError, /cannot checkpoint/);

      // Back to KVM in the same machine: what it reads back is what the interpreter handed over.
      const same = await backToKvm(interp, a);
      expect(same.read.regs).toEqual(same.handed.regs);
      expect(same.read.sregs).toEqual(same.handed.sregs);

      // Another stretch on that KVM vCPU, then the interpreter again, then a fresh machine.
      await kvmThenInterpreter(a, interp, KVM_SECOND, INTERPRETED_AGAIN);
      const b = await machine();
      const ramA = ramHash(a.memory.bytes(0, RAM));
      expect(ramHash(b.memory.bytes(0, RAM))).not.toBe(ramA);
      const fresh = await backToKvm(interp, b);
      expect(fresh.read.regs).toEqual(fresh.handed.regs);
      expect(fresh.read.sregs).toEqual(fresh.handed.sregs);
      expect(ramHash(b.memory.bytes(0, RAM))).toBe(ramA); // A's memory came along (copied: another VM)
      expect(await b.run()).toEqual({ reason: 'poweroff', status: 0 });
      expect(resultOf(b)).toBe(ref.result);
      expect(readExitDeviceState(b.deviceState.get('exit')!).result).toBe(ref.exitResult);
    },
    SLOW,
  );

  it(
    'a machine switched to the interpreter and back checkpoints; restored in a fresh process it finishes with the uninterrupted result, and so does the machine itself',
    async () => {
      const expected = switchTestsResult(ITERATIONS);
      const a = await machine();
      const interp = new X86InterpreterCpu({ io: exitPorts() });
      await kvmThenInterpreter(a, interp, KVM_FIRST, INTERPRETED);
      const back = await backToKvm(interp, a);
      const dir = path.join(work, 'ckpt');
      await a.checkpoint(dir);

      const out = path.join(work, 'child.json');
      const child = spawnSync(process.execPath, [CHILD, dir, out, String(RAM), String(SCRATCH)], { encoding: 'utf8', timeout: 180_000 });
      expect(child.status).toBe(0);
      const report = decodeSection(fs.readFileSync(out), 'child output') as { atRestore: { threadContext: X86ThreadContextData }; after: { exit: unknown; result: bigint } };
      expect(report.atRestore.threadContext.regs).toEqual(back.handed.regs);
      expect(report.after.exit).toEqual({ reason: 'poweroff', status: 0 });
      expect(report.after.result).toBe(expected);

      expect(await a.run()).toEqual({ reason: 'poweroff', status: 0 });
      expect(resultOf(a)).toBe(expected);
    },
    SLOW,
  );

  it(
    'drain() stops a vCPU that is running freely, mid-loop with memory consistent; the interpreter shortens the loop and KVM ends with the result predicted from the drained state',
    async () => {
      const endless = 2n ** 40n; // far more iterations than any run here reaches
      const m = await machine(Number(endless));
      const guest = assembleGuest('switch-tests');
      const loopTop = BigInt(guest.symbols.get('loop_top')!);
      const kvm = m.cpu(0);
      const interp = new X86InterpreterCpu({ io: exitPorts() });
      let done = 0n;
      for (const ms of [150, 150]) {
        const running = m.run();
        await new Promise((r) => setTimeout(r, ms));
        await kvm.drain();
        expect(await running).toEqual({ reason: 'stopped' });
        await kvm.switchOut();
        await interp.takeOverFrom(kvm);
        // On to the top of the loop (an iteration is at most 16 instructions).
        const r = interp.threadContext().regs;
        for (let i = 0; i < 16 && r.rip !== loopTop; i++) interp.run(1);
        expect(r.rip).toBe(loopTop);
        const iterations = endless - r.rcx;
        expect(iterations).toBeGreaterThan(done); // KVM ran freely, and further the second time
        done = iterations;
        expect(m.memory.view(SCRATCH, 8).getBigUint64(0, true)).toBe(r.rax); // stored by the last iteration
        await interp.switchOut();
        await kvm.takeOverFrom(interp);
      }
      // Two more iterations from here, then the fold: what KVM must end with.
      await kvm.switchOut();
      await interp.takeOverFrom(kvm);
      const r = interp.threadContext().regs;
      const at = { acc: r.rax, x: r.rbx, c: r.r9, s: r.r10 };
      const expected = switchTestsFold(switchTestsIteration(switchTestsIteration(at, endless), endless));
      r.rcx = 2n;
      await interp.switchOut();
      await kvm.takeOverFrom(interp);
      expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
      expect(resultOf(m)).toBe(expected);
    },
    SLOW,
  );

  it('misuse on real machines: typed errors, and the thread stays where it was', async () => {
    const a = await machine();
    const b = await machine();
    const kvmA = a.cpu(0);
    expect(a.cpu(0)).toBe(kvmA);
    expect(() => a.cpu(1)).toThrow(new ConfigError('cpu', 'no vCPU 1 (the machine has 1)'));
    const interp = new X86InterpreterCpu({ io: exitPorts() });

    // From a CPU that is not switched out.
    await expectRejection(interp.takeOverFrom(kvmA), LifecycleError, 'vCPU 0 (KVM): cannot hand its thread to interpreter (switch it out first) while active');
    expect(kvmA.switchState).toBe('active');

    // From another arch.
    const arm: SwitchableCpu = { name: 'arm-model', arch: 'arm64', switchState: 'switched-out', memory: undefined, drain: async () => undefined, switchOut: async () => undefined, takeOverFrom: async () => undefined, handOver: () => { throw new Error('not reached'); } };
    await expectRejection(b.cpu(0).takeOverFrom(arm), ConfigError, 'vCPU 0 (KVM) (x86_64) cannot take over the thread of arm-model (arm64)');

    await kvmA.switchOut();
    await expectRejection(kvmA.switchOut(), LifecycleError, 'cannot switch out while switched-out');
    // Started by hand past the machine's check, the vCPU's own CPU refuses too.
    const refused = await a.vcpus[0].start();
    expect(refused.reason).toBe('error');
    expect(refused.reason === 'error' && refused.error).toEqual(new LifecycleError('vCPU 0', 'switched-out', 'run'));
    expect(refused.reason === 'error' && refused.error).toBeInstanceOf(LifecycleError);
    await kvmA.drain(); // a switched-out CPU is drained already
    await interp.takeOverFrom(kvmA);
    // Twice: the thread went to the interpreter.
    await expectRejection(b.cpu(0).takeOverFrom(kvmA), LifecycleError, 'vCPU 0 (KVM): cannot hand its thread to vCPU 0 (KVM) while switched-out (its thread was handed to interpreter already)');
    // A vCPU that took a thread over owns it: taking another is refused before anything moves.
    interp.run(10);
    await interp.switchOut();
    await b.cpu(0).takeOverFrom(interp);
    const other = new X86InterpreterCpu({ name: 'other' });
    await expectRejection(b.cpu(0).takeOverFrom(other), LifecycleError, 'cannot take over from other while active (it owns a thread: switch it out first)');

    // After close: the machine's vCPU refuses, and memory it lent is not reachable any more.
    await b.cpu(0).switchOut();
    await interp.takeOverFrom(b.cpu(0));
    await b.close();
    expect(b.cpu(0).switchState).toBe('closed');
    await expectRejection(b.cpu(0).drain(), LifecycleError, 'vCPU 0 (KVM): cannot drain while closed');
    await expectRejection(b.cpu(0).takeOverFrom(other), LifecycleError, 'cannot take over from other while closed');
    expect(() => interp.run(1)).toThrow(new LifecycleError('machine memory', 'closed', 'access guest memory'));
  });
});

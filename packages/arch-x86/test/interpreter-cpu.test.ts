/**
 * The example interpreter CPU (examples/interpreter-cpu) without KVM: it takes the switch-tests
 * guest's thread over from a holder, runs it through 4-level page tables in flat memory, and
 * ends with what the guest's contract computes; split between two interpreters it ends the same;
 * what it cannot run is an InterpreterError that leaves the thread as it was.
 */
import { ConfigError, LifecycleError } from '@kvmts/core';
import { X86ThreadContext, loadPrebuiltGuest, type GuestImage } from '@kvmts/arch-x86';
import { InterpreterError, X86InterpreterCpu, type PortIo } from '../examples/interpreter-cpu';
import { FlatMemory, ThreadHolder, switchTestsResult, switchTestsState } from './support/switch-support';

const RAM = 4 << 20;
const SCRATCH = 0x10_0000;
const PML4 = 0x1000;
const M64 = (1n << 64n) - 1n;
const K = 0x9e3779b97f4a7c15n;

let guest: GuestImage;
beforeAll(() => {
  guest = loadPrebuiltGuest('switch-tests');
});
const sym = (name: string) => BigInt(guest.symbols.get(name)!);

/** Long mode as the boot builder leaves it: CR0.PG|PE, CR4.PAE, EFER.LME|LMA, CS.L; 4-level tables identity-mapping 4 MiB with 2 MiB pages. */
function bootThread(iterations: number): { holder: ThreadHolder; memory: FlatMemory } {
  const memory = new FlatMemory(RAM);
  const dv = new DataView(memory.ram.buffer);
  dv.setBigUint64(PML4, 0x2000n | 3n, true);
  dv.setBigUint64(0x2000, 0x3000n | 3n, true);
  dv.setBigUint64(0x3000, 0x0n | 0x83n, true);
  dv.setBigUint64(0x3008, 0x20_0000n | 0x83n, true);
  memory.ram.set(guest.bytes, guest.loadAddress);
  const tc = new X86ThreadContext();
  Object.assign(tc.regs, { rip: BigInt(guest.entry), rdi: BigInt(SCRATCH), rcx: BigInt(iterations), rflags: 0x2n });
  Object.assign(tc.sregs, { cr0: 0x8000_0011n, cr3: BigInt(PML4), cr4: 0x20n, efer: 0x500n });
  tc.sregs.cs.l = 1;
  return { holder: new ThreadHolder('boot', tc, memory), memory };
}

/** A PortIo like the exit device: 0xf8 takes the result, 0xf4 powers off (stops the run). */
function exitPorts(): PortIo & { writes: [number, number][] } {
  const writes: [number, number][] = [];
  return { writes, out: (port, _size, value) => (writes.push([port, value]), port === 0xf4) };
}

async function interpreterOn(iterations: number, io: PortIo = exitPorts()) {
  const { holder, memory } = bootThread(iterations);
  const cpu = new X86InterpreterCpu({ io });
  await holder.switchOut();
  await cpu.takeOverFrom(holder);
  return { cpu, memory };
}

describe('the interpreter CPU', () => {
  it('runs the switch-tests guest to its end: the result the contract computes, in memory, rbx and the result port', async () => {
    const io = exitPorts();
    const { cpu, memory } = await interpreterOn(300, io);
    const stop = cpu.run(1_000_000);
    expect(stop).toEqual({ reason: 'io', port: 0xf4, value: 0, executed: expect.any(Number) });
    const result = switchTestsResult(300);
    expect(result).toBe(0x54f9525ed4b543c4n); // golden: pins the model
    expect(memory.u64(SCRATCH)).toBe(result);
    expect(cpu.threadContext().regs.rbx).toBe(result);
    expect(io.writes).toEqual([[0xf8, Number(result & 0xffff_ffffn)], [0xf4, 0]]);
    expect(cpu.threadContext().regs.rip).toBe(sym('loop_end') + 0x12n); // at the `jmp .` after the power-off
    expect(cpu.instructions).toBe(stop.executed);
  });

  it('the model of the guest agrees with hardware: 50 000 iterations give what KVM computed (cpu-switching.kvm.test.ts, nested x86 tier)', () => {
    expect(switchTestsResult(50_000)).toBe(0x22ee11ea432f7a3cn);
  });

  it('counts instructions exactly: after the 6 set-up instructions it is at loop_top with the contract\'s initial values', async () => {
    const { cpu, memory } = await interpreterOn(10);
    expect(cpu.run(6)).toEqual({ reason: 'instructions', executed: 6 });
    const r = cpu.threadContext().regs;
    expect([r.rip, r.rax, r.rbx, r.rdx, r.r9, r.r10, r.rcx]).toEqual([sym('loop_top'), 0n, 1n, K, 0n, M64 - 4n, 10n]);
    expect(memory.u64(SCRATCH + 8)).toBe(10n);
    // One more: `add rbx, rdx` = 1 + K: no carry out (CF, AF clear), low byte 0x16 has three one bits (PF clear), bit 63 set (SF).
    cpu.run(1);
    expect(r.rbx).toBe(1n + K);
    expect(r.rflags & 0x8d5n).toBe(0x80n);
  });

  it('split between two interpreters at any point, the guest ends the same; the second starts where the first stopped', async () => {
    for (const at of [1, 7, 250, 1001]) {
      const { cpu: first, memory } = await interpreterOn(200);
      first.run(at);
      const handed = first.threadContext().toJSON();
      await first.drain();
      await first.switchOut();
      expect(() => first.run(1)).toThrow(new LifecycleError('interpreter', 'switched-out', 'read the thread context'));
      const io = exitPorts();
      const second = new X86InterpreterCpu({ name: 'second', io });
      await second.takeOverFrom(first);
      expect(second.threadContext().toJSON()).toEqual(handed);
      expect(second.memory).toBe(memory);
      expect(second.run(1_000_000).reason).toBe('io');
      expect(memory.u64(SCRATCH)).toBe(switchTestsResult(200));
    }
  });

  it('mid-loop state matches the model: after k full iterations rax, rbx, r9, r10 are acc, x, c, s', async () => {
    const { cpu } = await interpreterOn(100);
    cpu.run(6);
    const r = cpu.threadContext().regs;
    for (let k = 1; k <= 40; k++) {
      // Run to the next loop_top.
      do cpu.run(1);
      while (r.rip !== sym('loop_top'));
      const m = switchTestsState(100, k);
      expect([r.rax, r.rbx, r.r9, r.r10, r.rcx]).toEqual([m.acc, m.x, m.c, m.s, BigInt(100 - k)]);
    }
  });

  it('an instruction it does not implement is an InterpreterError naming rip and bytes; the thread is as before it', async () => {
    const { cpu, memory } = await interpreterOn(5);
    memory.ram.set([0x0f, 0xa2], guest.entry); // cpuid
    const before = cpu.threadContext().toJSON();
    expect(() => cpu.run(10)).toThrow(InterpreterError);
    expect(() => cpu.run(10)).toThrow('interpreter at rip 0x8000: cannot decode 0f a2: two-byte opcode 0x0f 0xa2 is not implemented');
    expect(cpu.threadContext().toJSON()).toEqual(before);
  });

  it('out with no PortIo, a page fault and 32-bit code are InterpreterErrors; rip stays on the instruction', async () => {
    const { cpu } = await interpreterOn(1);
    const r = cpu.threadContext().regs;
    r.rip = sym('loop_end') + 0xcn; // out 0xf8, eax
    const silent = new X86InterpreterCpu({ name: 'silent' });
    await cpu.switchOut();
    await silent.takeOverFrom(cpu);
    expect(() => silent.run(1)).toThrow(new InterpreterError(sym('loop_end') + 0xcn, 'out to port 0xf8 and no PortIo was given'));
    const tc = silent.threadContext();
    expect(tc.regs.rip).toBe(sym('loop_end') + 0xcn);
    tc.regs.rip = 0x4000_0000n; // PDPT entry 1: not present
    expect(() => silent.run(1)).toThrow(/^interpreter at rip 0x40000000: page fault at 0x40000000: PDPT entry 1 \(at 0x2008\) is not present/);
    tc.sregs.cs.l = 0;
    expect(() => silent.run(1)).toThrow('runs 64-bit code only (CS.L = 1 with EFER.LMA)');
    for (const bad of [-1, 1.5, Number.NaN]) expect(() => silent.run(bad)).toThrow(new ConfigError('run.maxInstructions', `must be a whole number ≥ 0, got ${bad}`));
  });

  it('a closed interpreter refuses everything with a LifecycleError', async () => {
    const { cpu } = await interpreterOn(1);
    cpu.close();
    await expect(cpu.drain()).rejects.toThrow(new LifecycleError('interpreter', 'closed', 'drain'));
    await expect(cpu.switchOut()).rejects.toThrow(LifecycleError);
    expect(() => cpu.run(1)).toThrow(new LifecycleError('interpreter', 'closed', 'read the thread context'));
    const { holder } = bootThread(1);
    await holder.switchOut();
    await expect(cpu.takeOverFrom(holder)).rejects.toThrow(new LifecycleError('interpreter', 'closed', 'take over from boot'));
  });
});

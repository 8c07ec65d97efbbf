/** Lazy sync per register class, driven through a recording stand-in for ONE_REG. */
import { ARM64_CORE_REGISTERS, ARM64_FP_REGISTERS, ARM64_ID_REGISTERS, ARM64_SYSTEM_REGISTERS, ArmV8ThreadContext, RegisterClassSync, type OneRegTransport } from '../src';

class RecordingTransport implements OneRegTransport {
  readonly values = new Map<bigint, bigint>();
  gets: bigint[] = [];
  sets: bigint[] = [];
  listCalls = 0;
  constructor(private readonly listed: readonly bigint[]) {}
  get(id: bigint): bigint {
    this.gets.push(id);
    return this.values.get(id) ?? 0n;
  }
  set(id: bigint, value: bigint): void {
    this.sets.push(id);
    this.values.set(id, value);
  }
  list(): readonly bigint[] {
    this.listCalls++;
    return this.listed;
  }
}

const ids = (regs: readonly { id: bigint }[]): bigint[] => regs.map((r) => r.id);
const pc = ARM64_CORE_REGISTERS.find((r) => r.name === 'pc')!.id;
const v31 = ARM64_FP_REGISTERS.find((r) => r.name === 'v31')!.id;
/** A KVM that lacks ACTLR_EL1: it is not synced. */
const sysListed = ARM64_SYSTEM_REGISTERS.filter((r) => r.name !== 'ACTLR_EL1');

function setup() {
  const io = new RecordingTransport([...ids(ARM64_CORE_REGISTERS), ...ids(ARM64_FP_REGISTERS), ...ids(sysListed), ...ids(ARM64_ID_REGISTERS)]);
  const tc = new ArmV8ThreadContext();
  return { io, tc, sync: new RegisterClassSync(io, tc) };
}

describe('per-class lazy register sync', () => {
  it('pulls only the class that is read, and each class once until KVM runs again', () => {
    const { io, tc, sync } = setup();
    io.values.set(pc, 0x4000_0000n);
    sync.pull('core');
    expect(io.gets).toEqual(ids(ARM64_CORE_REGISTERS));
    expect(tc.core.pc).toBe(0x4000_0000n);
    sync.pull('core');
    expect(io.gets).toHaveLength(ARM64_CORE_REGISTERS.length);
    sync.kvmRan();
    sync.pull('fp');
    expect(io.gets.slice(ARM64_CORE_REGISTERS.length)).toEqual(ids(ARM64_FP_REGISTERS));
    expect(sync.isStale('core')).toBe(true);
  });

  it('syncs the system registers of the allow-list that KVM_GET_REG_LIST reports, asking for the list once', () => {
    const { io, sync } = setup();
    sync.pull('core');
    expect(io.listCalls).toBe(0); // core registers are always there
    sync.pull('sys');
    sync.pull('id');
    expect(io.gets.slice(ARM64_CORE_REGISTERS.length)).toEqual([...ids(sysListed), ...ids(ARM64_ID_REGISTERS)]);
    expect(sync.synced('sys').map((r) => r.name)).not.toContain('ACTLR_EL1');
    expect(io.listCalls).toBe(1);
  });

  it('pushes only the classes that changed, and never the ID registers', () => {
    const { io, tc, sync } = setup();
    sync.pullStale();
    tc.fp.v31 = (1n << 127n) | 5n;
    sync.markDirty('fp');
    sync.markDirty('id');
    sync.pushDirty();
    expect(io.sets).toEqual(ids(ARM64_FP_REGISTERS));
    expect(io.values.get(v31)).toBe((1n << 127n) | 5n);
    sync.pushDirty();
    expect(io.sets).toHaveLength(ARM64_FP_REGISTERS.length);
  });

  it('keeps a changed class across a run that did not push it (the context is newer), and never re-reads ID registers', () => {
    const { io, tc, sync } = setup();
    sync.pullStale();
    tc.core.pc = 0x1234n;
    sync.markDirty('core');
    sync.kvmRan();
    expect(sync.isStale('core')).toBe(false);
    expect(sync.isDirty('core')).toBe(true);
    expect(sync.isStale('sys')).toBe(true);
    expect(sync.isStale('id')).toBe(false);
    const before = io.gets.length;
    sync.pullStale();
    expect(tc.core.pc).toBe(0x1234n);
    expect(io.gets.slice(before)).toEqual([...ids(ARM64_FP_REGISTERS), ...ids(sysListed)]);
  });

  it('takes a whole context as newer when it is loaded from another CPU model', () => {
    const { io, sync } = setup();
    sync.markAllDirty();
    expect(sync.isStale('core')).toBe(false);
    sync.pushDirty();
    expect(io.gets).toEqual([]);
    expect(io.sets).toEqual([...ids(ARM64_CORE_REGISTERS), ...ids(ARM64_FP_REGISTERS), ...ids(sysListed)]);
  });
});

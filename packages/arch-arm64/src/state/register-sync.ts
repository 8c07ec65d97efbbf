/**
 * Lazy state sync per register class. The CPU tells it when KVM ran (classes the guest can
 * change become stale) and asks it for one class at a time; it pulls a stale class on first use
 * and pushes only the classes that were changed. A class is never stale and dirty at once: a
 * change is made to a pulled class, and a dirty class stays dirty (the context is newer) even if
 * KVM runs again before the push (a drain completes I/O without running guest code).
 */
import { ARMV8_REGISTER_CLASSES, ARMV8_REGISTER_CLASS_NAMES, type ArmV8RegisterClass, type ArmV8Registers } from './register-classes';

/** ONE_REG access to one vCPU (the real one is ./one-reg-io.ts; tests substitute a recorder). */
export interface OneRegTransport {
  get(id: bigint): bigint;
  set(id: bigint, value: bigint): void;
  /** KVM_GET_REG_LIST. */
  list(): readonly bigint[];
}

type Register = { readonly name: string; readonly id: bigint };

export class RegisterClassSync {
  private readonly stale = new Set<ArmV8RegisterClass>(ARMV8_REGISTER_CLASS_NAMES);
  private readonly dirty = new Set<ArmV8RegisterClass>();
  private readonly present = new Map<ArmV8RegisterClass, readonly Register[]>();
  private listed: ReadonlySet<bigint> | undefined;

  constructor(
    private readonly io: OneRegTransport,
    private readonly regs: ArmV8Registers,
  ) {}

  /** KVM ran guest code (or may have): what the guest can change is older than KVM's copy. */
  kvmRan(): void {
    for (const cls of ARMV8_REGISTER_CLASS_NAMES) {
      if (ARMV8_REGISTER_CLASSES[cls].changesWhileRunning && !this.dirty.has(cls)) this.stale.add(cls);
    }
  }

  isStale(cls: ArmV8RegisterClass): boolean {
    return this.stale.has(cls);
  }

  isDirty(cls: ArmV8RegisterClass): boolean {
    return this.dirty.has(cls);
  }

  /** The registers of `cls` this KVM has, i.e. the ones that are synced (KVM_GET_REG_LIST is asked once, when first needed). */
  synced(cls: ArmV8RegisterClass): readonly Register[] {
    let registers = this.present.get(cls);
    if (registers === undefined) {
      const spec = ARMV8_REGISTER_CLASSES[cls];
      if (spec.intersectWithRegList) {
        const listed = (this.listed ??= new Set(this.io.list()));
        registers = spec.registers.filter((r) => listed.has(r.id));
      } else {
        registers = spec.registers;
      }
      this.present.set(cls, registers);
    }
    return registers;
  }

  /** Fetch `cls` from KVM if KVM's copy is newer. */
  pull(cls: ArmV8RegisterClass): void {
    if (!this.stale.has(cls)) return;
    const part = this.regs[cls] as Record<string, bigint>;
    for (const r of this.synced(cls)) part[r.name] = this.io.get(r.id);
    this.stale.delete(cls);
  }

  pullStale(): void {
    for (const cls of ARMV8_REGISTER_CLASS_NAMES) this.pull(cls);
  }

  /** `cls` was changed in the context (the caller pulled it first): push it before the next run. */
  markDirty(cls: ArmV8RegisterClass): void {
    if (ARMV8_REGISTER_CLASSES[cls].writable) this.dirty.add(cls);
  }

  /** The whole context is newer than KVM's (it was loaded from another CPU model). */
  markAllDirty(): void {
    for (const cls of ARMV8_REGISTER_CLASS_NAMES) {
      this.stale.delete(cls);
      this.markDirty(cls);
    }
  }

  /** Push every changed class, in class order. */
  pushDirty(): void {
    for (const cls of ARMV8_REGISTER_CLASS_NAMES) {
      if (!this.dirty.has(cls)) continue;
      const part = this.regs[cls] as Record<string, bigint>;
      for (const r of this.synced(cls)) this.io.set(r.id, part[r.name]);
      this.dirty.delete(cls);
    }
  }
}

import { inject, injectable } from 'tsyringe';
import {
  BaseKvmCPU,
  ConfigError,
  KvmExitReason,
  LifecycleError,
  VCPU_SETUP,
  type CpuStop,
  type IrqLines,
  type VcpuSetup,
} from '@kvmts/core';
import { DeviceIrqLevelForwarder } from './gic/device-irq-levels';
import { Arm64RunLayout, type Arm64CoreRegName } from './abi';
import { OneRegIo } from './state/one-reg-io';
import { RegisterClassSync } from './state/register-sync';
import { ArmV8ThreadContext } from './state/thread-context';
import { ARMV8_REGISTER_CLASS_NAMES, type ArmV8RegisterClass, type ArmV8Registers } from './state/register-classes';
import { assertIdRegistersMatch } from './state/id-registers';
import { VirtualCounter } from './state/virtual-counter';
import { formatArmV8Dump } from './state/dump';
import { getMpState, setMpState } from './state/mp-state';

/** What prepareBoot hands each vCPU thread (plain data). */
export interface Arm64InitialState {
  /** The VM's virtual-counter state, one buffer shared by all its vCPUs (createVirtualCounterState). */
  readonly virtualCounter: SharedArrayBuffer;
  /** Core registers to start with: the boot vCPU's PC, PSTATE and x0–x3. The others wait for PSCI CPU_ON. */
  readonly registers?: Partial<Record<Arm64CoreRegName, bigint>>;
  /** Pass the in-kernel timers' levels to the thread's interrupt lines (a userspace GIC; gic/device-irq-levels.ts). */
  readonly forwardDeviceIrqLevels?: boolean;
}

// Read once at load: @kvmts/core's compiled re-exports are getters.
const NISV_ESR_ISS = Arm64RunLayout.fields['arm_nisv.esr_iss'].offset;
const NISV_FAULT_IPA = Arm64RunLayout.fields['arm_nisv.fault_ipa'].offset;

/**
 * The arm64 KVM CPU: registers ⇄ ArmV8ThreadContext through KVM_GET/SET_ONE_REG, synced lazily
 * per register class (core, FP/SIMD, system, ID); the VM's virtual counter saved and restored
 * across pauses; KVM_EXIT_ARM_NISV as a GuestError. MMIO and PSCI system events are core's
 * (PSCI CPU_ON/OFF never leave the kernel). Resolved from a vCPU's container (KVM_CPU).
 */
@injectable()
export class ArmV8KvmCPU extends BaseKvmCPU<Arm64InitialState, ArmV8ThreadContext> {
  readonly arch = 'arm64';
  private readonly tc = new ArmV8ThreadContext();
  private readonly io: OneRegIo;
  private readonly sync: RegisterClassSync;
  private counter: VirtualCounter | undefined;
  /** The MP state travels outside ONE_REG: fetched after a run when asked for, pushed when loaded. */
  private mpStale = true;
  private mpDirty = false;

  private readonly irqLines: IrqLines | undefined;

  constructor(@inject(VCPU_SETUP) setup: VcpuSetup) {
    super(setup);
    this.irqLines = setup.options?.irqLines;
    this.io = new OneRegIo(this.fd);
    this.sync = new RegisterClassSync(this.io, this.tc);
    this.setExitHandler(KvmExitReason.ARM_NISV, (cpu) => (cpu as ArmV8KvmCPU).failNisv());
  }

  protected get threadContext(): ArmV8ThreadContext {
    return this.tc;
  }

  /** Join the VM's virtual counter, then set the starting registers (the vCPU was initialised by prepareBoot). */
  applyInitialState(state: Arm64InitialState): void {
    this.counter = new VirtualCounter(state.virtualCounter, this.io);
    if (state.forwardDeviceIrqLevels) {
      if (this.irqLines === undefined) throw new ConfigError('archOptions.timer', `vCPU ${this.id} was built without interrupt lines to pass its timer's levels to (VcpuSetup options.irqLines)`);
      const forwarder = new DeviceIrqLevelForwarder(this.runBytes, this.id, this.irqLines);
      this.setEntryHook(() => forwarder.update());
    }
    if (state.registers) this.setRegisters('core', state.registers);
    this.syncToKvm();
  }

  /** Runs as BaseKvmCPU does, between entering and leaving the VM's virtual counter (see VirtualCounter). */
  override runLoop(maxExits?: number): CpuStop {
    const counter = this.counter;
    if (counter === undefined) throw new LifecycleError(`vCPU ${this.id}`, 'not initialised', 'run before applyInitialState');
    counter.enter();
    try {
      return super.runLoop(maxExits);
    } finally {
      counter.leave();
    }
  }

  // ---- per-class access -------------------------------------------------------------------

  /** One register class, fetched from KVM only if KVM's copy is newer; other classes are not read. */
  registers<K extends ArmV8RegisterClass>(cls: K): ArmV8Registers[K] {
    this.requireIdle('read registers');
    this.absorbKvmRun();
    this.sync.pull(cls);
    return this.tc[cls];
  }

  /** Change registers of one class; only that class is pushed before the next run. */
  setRegisters<K extends ArmV8RegisterClass>(cls: K, values: Partial<ArmV8Registers[K]>): void {
    if (!ARMV8_REGISTER_CLASS_NAMES.includes(cls) || cls === 'id') throw new ConfigError(`registers.${cls}`, cls === 'id' ? 'ID registers are read-only (they are compared, never written, when a context moves here)' : 'unknown register class');
    const part = this.registers(cls) as Record<string, bigint>;
    for (const [name, value] of Object.entries(values as Record<string, unknown>)) {
      if (!(name in part)) throw new ConfigError(`registers.${cls}.${name}`, 'unknown register');
      if (typeof value !== 'bigint') throw new ConfigError(`registers.${cls}.${name}`, `must be a bigint, got ${typeof value}`);
    }
    Object.assign(part, values);
    this.sync.markDirty(cls);
    this.threadContextDirty = true;
  }

  /** The system registers this KVM lists, i.e. the ones that are synced (the allow-list ∩ KVM_GET_REG_LIST). */
  syncedSystemRegisters(): readonly string[] {
    return this.sync.synced('sys').map((r) => r.name);
  }

  /** The VM's virtual count saved at its last pause (undefined before the first). */
  savedVirtualCount(): bigint | undefined {
    return this.counter?.savedCount();
  }

  // ---- the state-sync contract --------------------------------------------------------------

  override getThreadContext(): ArmV8ThreadContext {
    super.getThreadContext();
    this.absorbKvmRun();
    this.sync.pullStale();
    this.pullMpState();
    return this.tc;
  }

  override markThreadContextDirty(): void {
    this.requireIdle('modify the thread context');
    this.absorbKvmRun();
    this.sync.pullStale();
    this.pullMpState();
    this.sync.markAllDirty();
    this.mpDirty = true;
    super.markThreadContextDirty();
  }

  protected updateThreadContext(): void {
    this.absorbKvmRun();
    this.sync.pullStale();
    this.pullMpState();
  }

  protected updateKvmState(): void {
    this.sync.pushDirty();
    if (this.mpDirty) {
      setMpState(this.fd, this.tc.mpState);
      this.mpDirty = false;
    }
  }

  /** A context from another CPU model runs here only if it describes the same CPU (ID registers). */
  protected loadThreadContext(tc: ArmV8ThreadContext): void {
    assertIdRegistersMatch(this.registers('id'), tc.id);
    this.tc.copyFrom(tc);
    this.tc.mpState = tc.mpState;
    this.sync.markAllDirty();
    this.mpStale = false;
    this.mpDirty = true;
  }

  private pullMpState(): void {
    if (!this.mpStale || this.mpDirty) return;
    this.tc.mpState = getMpState(this.fd);
    this.mpStale = false;
  }

  /**
   * BaseKvmCPU raises its one flag after every KVM_RUN; here it becomes per-class staleness, so
   * that a class read after the run is fetched once and the others stay unread.
   */
  private absorbKvmRun(): void {
    if (!this.kvmStateDirty) return;
    this.sync.kvmRan();
    if (!this.mpDirty) this.mpStale = true;
    this.kvmStateDirty = false;
  }

  private requireIdle(operation: string): void {
    if (this.state === 'running' || this.state === 'closed') throw new LifecycleError(`vCPU ${this.id}`, this.state, operation);
  }

  // ---- exits ----------------------------------------------------------------------------------

  private failNisv(): never {
    const iss = this.run.getBigUint64(NISV_ESR_ISS, true);
    const ipa = this.run.getBigUint64(NISV_FAULT_IPA, true);
    throw this.guestError(
      'unhandled-io',
      `data abort at IPA 0x${ipa.toString(16)} without a valid syndrome (KVM_EXIT_ARM_NISV, ESR ISS 0x${iss.toString(16)}): ` +
        'KVM cannot tell which register or width the access used — a load/store pair, a write-back or a SIMD access to ' +
        'device memory. Access MMIO with single-register loads and stores',
      { esrIss: iss, faultIpa: ipa },
    );
  }

  dumpState(): string {
    return formatArmV8Dump(this.getThreadContext(), this.syncedSystemRegisters());
  }

  override close(): void {
    if (this.state === 'closed') return;
    super.close();
    this.io.close();
  }
}

/**
 * The generic KVM ABI tables against the installed kernel headers: a C probe generated from
 * the tables is compiled with gcc and every ioctl number, capability id, constant, struct
 * size and member offset is compared. Needs gcc + linux-libc-dev; fails (not skips) without.
 */
import * as abi from '../src/abi';
import {
  IocDir,
  KvmAbiIntroducedIn,
  KvmAbiTablePrefixes,
  KvmCap,
  KvmIoctl,
  decodeIoctl,
  io,
  ior,
  iow,
  iowr,
} from '../src/abi';
import { ConfigError } from '../src/errors/errors';
import {
  type CollectedChecks,
  type FlatLayoutMapping,
  type ProbeResult,
  collectAbiChecks,
  compareWithProbe,
  compileAbiProbe,
  compiledProbeSource,
  parseCompiledProbe,
  kernelVersionCode,
  probeSource,
  runAbiProbe,
  structChecks,
} from '@kvmts/core';

/** The older flat layout tables `{ member: offset, size }`: TS key → C member designator. */
const flatLayouts: Record<string, FlatLayoutMapping> = {
  KvmRunLayout: {
    struct: 'kvm_run',
    members: {
      request_interrupt_window: 'request_interrupt_window',
      immediate_exit: 'immediate_exit',
      exit_reason: 'exit_reason',
      ready_for_interrupt_injection: 'ready_for_interrupt_injection',
      if_flag: 'if_flag',
      flags: 'flags',
      cr8: 'cr8',
      apic_base: 'apic_base',
      union: 'hw', // the anonymous exit union starts with `hw`
      io_direction: 'io.direction',
      io_size: 'io.size',
      io_port: 'io.port',
      io_count: 'io.count',
      io_data_offset: 'io.data_offset',
      mmio_phys_addr: 'mmio.phys_addr',
      mmio_data: 'mmio.data',
      mmio_len: 'mmio.len',
      mmio_is_write: 'mmio.is_write',
      fail_entry_hardware_entry_failure_reason: 'fail_entry.hardware_entry_failure_reason',
      fail_entry_cpu: 'fail_entry.cpu',
      hw_hardware_exit_reason: 'hw.hardware_exit_reason',
      ex_exception: 'ex.exception',
      ex_error_code: 'ex.error_code',
      hypercall_nr: 'hypercall.nr',
      hypercall_args: 'hypercall.args',
      hypercall_ret: 'hypercall.ret',
      hypercall_longmode: 'hypercall.longmode',
      internal_suberror: 'internal.suberror',
      internal_ndata: 'internal.ndata',
      internal_data: 'internal.data',
      emulation_failure_flags: 'emulation_failure.flags',
      emulation_failure_insn_size: 'emulation_failure.insn_size',
      emulation_failure_insn_bytes: 'emulation_failure.insn_bytes',
      system_event_type: 'system_event.type',
      system_event_ndata: 'system_event.ndata',
      system_event_data: 'system_event.data',
      msr_error: 'msr.error',
      msr_reason: 'msr.reason',
      msr_index: 'msr.index',
      msr_data: 'msr.data',
      kvm_valid_regs: 'kvm_valid_regs',
      kvm_dirty_regs: 'kvm_dirty_regs',
      sync_regs: 's',
      size: 'sizeof',
    },
  },
  UserspaceMemoryRegionLayout: {
    struct: 'kvm_userspace_memory_region',
    members: {
      slot: 'slot', flags: 'flags', guest_phys_addr: 'guest_phys_addr', memory_size: 'memory_size',
      userspace_addr: 'userspace_addr', size: 'sizeof',
    },
  },
  CoalescedMmioZoneLayout: {
    struct: 'kvm_coalesced_mmio_zone',
    members: { addr: 'addr', size: 'size', pio: 'pio', sizeof: 'sizeof' },
  },
  CoalescedMmioRingLayout: {
    struct: 'kvm_coalesced_mmio_ring',
    members: { first: 'first', last: 'last', entries: 'coalesced_mmio' },
  },
  CoalescedMmioEntryLayout: {
    struct: 'kvm_coalesced_mmio',
    members: { phys_addr: 'phys_addr', len: 'len', pio: 'pio', data: 'data', sizeof: 'sizeof' },
  },
  IrqLevelLayout: { struct: 'kvm_irq_level', members: { irq: 'irq', level: 'level', size: 'sizeof' } },
  IrqfdLayout: {
    struct: 'kvm_irqfd',
    members: { fd: 'fd', gsi: 'gsi', flags: 'flags', resamplefd: 'resamplefd', size: 'sizeof' },
  },
  IoeventfdLayout: {
    struct: 'kvm_ioeventfd',
    members: { datamatch: 'datamatch', addr: 'addr', len: 'len', fd: 'fd', flags: 'flags', size: 'sizeof' },
  },
  CreateDeviceLayout: { struct: 'kvm_create_device', members: { type: 'type', fd: 'fd', flags: 'flags', size: 'sizeof' } },
  DeviceAttrLayout: {
    struct: 'kvm_device_attr',
    members: { flags: 'flags', group: 'group', attr: 'attr', addr: 'addr', size: 'sizeof' },
  },
  EnableCapLayout: { struct: 'kvm_enable_cap', members: { cap: 'cap', flags: 'flags', args: 'args', size: 'sizeof' } },
  OneRegLayout: { struct: 'kvm_one_reg', members: { id: 'id', addr: 'addr', size: 'sizeof' } },
  MpStateLayout: { struct: 'kvm_mp_state', members: { mp_state: 'mp_state', size: 'sizeof' } },
  SignalMaskLayout: { struct: 'kvm_signal_mask', members: { len: 'len', sigset: 'sigset' } },
  DirtyLogLayout: { struct: 'kvm_dirty_log', members: { slot: 'slot', dirty_bitmap: 'dirty_bitmap', size: 'sizeof' } },
  ClearDirtyLogLayout: {
    struct: 'kvm_clear_dirty_log',
    members: { slot: 'slot', num_pages: 'num_pages', first_page: 'first_page', dirty_bitmap: 'dirty_bitmap', size: 'sizeof' },
  },
  RegListLayout: { struct: 'kvm_reg_list', members: { n: 'n', reg: 'reg' } },
  MsiLayout: {
    struct: 'kvm_msi',
    members: { address_lo: 'address_lo', address_hi: 'address_hi', data: 'data', flags: 'flags', devid: 'devid', size: 'sizeof' },
  },
};

const collectOptions = {
  tablePrefixes: KvmAbiTablePrefixes,
  flatLayouts,
  namedConstants: {
    KVMIO: 'KVMIO',
    ENABLE_CAP_ARG_COUNT: 'sizeof(((struct kvm_enable_cap *)0)->args) / sizeof(__u64)',
  },
  notAbi: ['KvmAbiIntroducedIn', 'KvmAbiTablePrefixes'],
};

let collected: CollectedChecks | undefined;
let probe: ProbeResult | undefined;
/** Compiled once per file; a missing gcc/headers throws here and fails every test that needs it. */
function probed(): { collected: CollectedChecks; probe: ProbeResult } {
  collected ??= collectAbiChecks(abi as unknown as Record<string, unknown>, collectOptions);
  probe ??= runAbiProbe(collected.checks);
  return { collected, probe };
}

describe('generic KVM ABI tables vs installed kernel headers', () => {
  it('classifies every export of core/abi (no table escapes the check)', () => {
    const { unclassified, checks } = collectAbiChecks(abi as unknown as Record<string, unknown>, collectOptions);
    expect(unclassified).toEqual([]);
    // every ioctl and capability is among the checks
    for (const k of Object.keys(KvmIoctl)) expect(checks.some((c) => c.macro === `KVM_${k}`)).toBe(true);
    expect(checks.filter((c) => c.macro?.startsWith('KVM_CAP_')).length).toBe(
      Object.keys(KvmCap).filter((k) => !/^\d+$/.test(k)).length,
    );
  });

  it('matches every ioctl number, capability id, constant, struct size and offset', () => {
    const { collected: col, probe: p } = probed();
    expect(p.headerVersion).toBeGreaterThanOrEqual(kernelVersionCode('5.16'));
    expect(col.checks.length).toBeGreaterThan(250);
    expect(compareWithProbe(col.checks, p, KvmAbiIntroducedIn)).toEqual([]);
  });

  it('reports a table value that differs from the headers (the comparison has teeth)', () => {
    const { collected: col, probe: p } = probed();
    const cap = col.checks.find((c) => c.macro === 'KVM_CAP_ARM_USER_IRQ');
    const off = col.checks.find((c) => c.id === 'KvmRunLayout.io_port');
    expect(cap && off).toBeTruthy();
    const wrong = [cap!, off!].map((c) => ({ ...c, expected: c.expected + 7n }));
    expect(compareWithProbe(wrong, p, KvmAbiIntroducedIn)).toEqual([
      'KvmCap.ARM_USER_IRQ (KVM_CAP_ARM_USER_IRQ): TypeScript 0x97, headers 0x90',
      'KvmRunLayout.io_port: TypeScript 0x29, headers 0x22',
    ]);
  });

  it('accepts a missing macro only when it is listed as newer than the headers', () => {
    const { probe: p } = probed();
    const fake = [{ id: 'KVM_CAP_FROM_THE_FUTURE', expected: 999n, expr: 'KVM_CAP_FROM_THE_FUTURE', macro: 'KVM_CAP_FROM_THE_FUTURE' }];
    const missing: ProbeResult = { ...p, missing: new Set(['KVM_CAP_FROM_THE_FUTURE']) };
    expect(compareWithProbe(fake, missing, {})).toHaveLength(1);
    expect(compareWithProbe(fake, missing, { KVM_CAP_FROM_THE_FUTURE: '99.0' })).toEqual([]);
    expect(compareWithProbe(fake, missing, { KVM_CAP_FROM_THE_FUTURE: '2.6' })).toHaveLength(1);
  });

  it('keeps the kernel quirks: GET_ONE_REG and GET_DEVICE_ATTR are _IOW', () => {
    const { probe: p } = probed();
    for (const name of ['GET_ONE_REG', 'GET_DEVICE_ATTR'] as const) {
      expect(decodeIoctl(KvmIoctl[name]).dir).toBe(IocDir.WRITE);
      expect(p.values.get(`KvmIoctl.${name} (KVM_${name})`)).toBe(BigInt(KvmIoctl[name]));
    }
  });

  it('keeps shared-nr pairs distinct: IRQ_LINE_STATUS vs REGISTER_COALESCED_MMIO (nr 0x67)', () => {
    const a = decodeIoctl(KvmIoctl.IRQ_LINE_STATUS);
    const b = decodeIoctl(KvmIoctl.REGISTER_COALESCED_MMIO);
    expect(a.nr).toBe(0x67);
    expect(b.nr).toBe(0x67);
    expect(KvmIoctl.IRQ_LINE_STATUS).not.toBe(KvmIoctl.REGISTER_COALESCED_MMIO);
    expect(a).toEqual({ dir: IocDir.READ | IocDir.WRITE, type: 0xae, nr: 0x67, size: 8 });
    expect(b).toEqual({ dir: IocDir.WRITE, type: 0xae, nr: 0x67, size: 16 });
  });
});

describe('ioctl encoding', () => {
  it('encodes golden request numbers from the reference probe', () => {
    expect(io(0x00)).toBe(0x0000ae00); // KVM_GET_API_VERSION
    expect(iow(0x46, 32)).toBe(0x4020ae46); // KVM_SET_USER_MEMORY_REGION
    expect(ior(0x81, 144)).toBe(0x8090ae81); // KVM_GET_REGS
    expect(iowr(0xe0, 12)).toBe(0xc00caee0); // KVM_CREATE_DEVICE
    expect(ior(0xa4, 4096)).toBe(0x9000aea4); // KVM_GET_XSAVE: size 4096 sets bit 28
  });

  it('returns unsigned 32-bit numbers even with the read bit (bit 31) set', () => {
    expect(ior(0x83, 312)).toBeGreaterThan(0x7fffffff);
    expect(Number.isSafeInteger(ior(0x83, 312))).toBe(true);
  });

  it('rejects a size that does not fit 14 bits with a ConfigError', () => {
    expect(() => iow(0x01, 1 << 14)).toThrow(ConfigError);
    expect(() => iow(0x01, -1)).toThrow(ConfigError);
  });

  it('decodes what it encodes', () => {
    expect(decodeIoctl(iowr(0xb0, 8))).toEqual({ dir: 3, type: 0xae, nr: 0xb0, size: 8 });
    expect(decodeIoctl(io(0x80))).toEqual({ dir: 0, type: 0xae, nr: 0x80, size: 0 });
  });
});

describe('ABI probe helper', () => {
  it('turns a layout into sizeof/offsetof/stride checks, guarding macros with #ifdef', () => {
    const checks = structChecks('L', { struct: 'kvm_msrs', size: 8, fields: { nmsrs: { offset: 0, size: 4 }, entries: { offset: 8, size: 0, stride: 16 } } });
    expect(checks.map((c) => c.expr)).toEqual([
      'sizeof(struct kvm_msrs)',
      'offsetof(struct kvm_msrs, nmsrs)',
      'sizeof(((struct kvm_msrs *)0)->nmsrs)',
      'offsetof(struct kvm_msrs, entries)',
      'sizeof(((struct kvm_msrs *)0)->entries[0])',
    ]);
    const src = probeSource([{ id: 'X', expected: 1n, expr: 'KVM_X', macro: 'KVM_X' }]);
    expect(src).toContain('#ifdef KVM_X\n  printf("%s %lld\\n", "X", (long long)(KVM_X));\n#else');
  });

  it('reads the same values from a compiled-only probe as from a probe that runs (the cross-compiler path)', () => {
    const { collected: col, probe: p } = probed();
    const compiled = compileAbiProbe(col.checks, process.env.CC ?? 'gcc');
    expect(compiled.headerVersion).toBe(p.headerVersion);
    expect(compiled.missing).toEqual(p.missing);
    expect(compiled.values).toEqual(p.values);
  });

  it('parses the data directives of GNU assemblers, zero fill included, up to the end of the array', () => {
    const asm = ['\t.data', 'kvmts_abi_probe:', '\t.xword\t1', '\t.quad\t-5', '\t.8byte\t7', '\t.zero\t16', '\t.dword\t9', '\t.ident\t"GCC"', '\t.xword\t3'].join('\n');
    expect(parseCompiledProbe(asm)).toEqual([1n, -5n, 7n, 0n, 0n, 9n]);
    expect(() => parseCompiledProbe('\t.quad 1')).toThrow(/no kvmts_abi_probe label/);
    expect(compiledProbeSource([{ id: 'X', expected: 1n, expr: 'KVM_X', macro: 'KVM_X' }])).toContain('#ifdef KVM_X\n  1, (long long)(KVM_X), /* X */\n#else\n  0, 0,\n#endif');
  });

  it('refuses a flexible array member without a stride', () => {
    expect(() => structChecks('L', { struct: 's', size: 4, fields: { a: { offset: 4, size: 0 } } })).toThrow(/needs a stride/);
  });

  it('encodes kernel versions like LINUX_VERSION_CODE', () => {
    expect(kernelVersionCode('6.1')).toBe(0x060100);
    expect(kernelVersionCode('5.16.3')).toBe(0x051003);
  });
});

/**
 * gem5's pseudo-instructions ("m5ops"), as one table: function number, name, argument names
 * (in the order of the guest's argument registers) and what the op returns to the guest.
 *
 * The numbers are gem5's (include/gem5/asm/generic/m5ops.h); the names are the `m5` utility's
 * command names. Every op in gem5's list is here, so a guest calling one kvmts has no built-in
 * meaning for (quiesce, initparam, …) is reported by name, and an owner can still handle it.
 *
 * Where a guest reaches them: an arch plugin decodes the function number from its calling
 * convention (x86: a read at `base + (func << 8)` in gem5's 64 KiB MMIO window, or kvmts' port
 * doorbell) and hands `(func, args)` to the vCPU thread's M5opGuestCalls.
 */

/** What an op returns in the guest's result register. */
export type M5opReturns = 'nothing' | 'bytes' | 'value';

/**
 * Where kvmts carries an op out:
 * - `thread`: in the vCPU thread that took the exit, synchronously, so its result reaches the
 *   guest in the same access (readfile, writefile: host files the machine's owner configured);
 * - `machine`: the vCPU stops with an m5op stop, the machine runs the built-in action and/or the
 *   owner's handler on the main thread, then resumes the vCPU (or ends the run). The guest's
 *   result register reads 0 — every such op returns nothing in gem5.
 */
export type M5opWhere = 'thread' | 'machine';

/**
 * What happens when the owner registered no handler:
 * - `end-run`: the run ends (exit: an `m5-exit` result; fail: a GuestError kind 'm5op-fail');
 * - `builtin`: kvmts' own action (stats, work items), then the guest continues;
 * - `needs-handler`: reported as a GuestError kind 'm5op-unhandled' naming the op and vCPU.
 */
export type M5opDefault = 'end-run' | 'builtin' | 'needs-handler';

export interface M5opInfo {
  /** gem5's function number: bits [15:8] of the offset in the MMIO window. */
  readonly func: number;
  readonly name: string;
  /** Argument names, first register first (x86-64: rdi, rsi, rdx, rcx, r8, r9). */
  readonly args: readonly string[];
  readonly returns: M5opReturns;
  readonly where: M5opWhere;
  readonly default: M5opDefault;
  /** One line for docs and error messages. */
  readonly summary: string;
}

type Row = readonly [func: number, name: string, args: readonly string[], returns: M5opReturns, where: M5opWhere, dflt: M5opDefault, summary: string];

const ROWS: readonly Row[] = [
  [0x00, 'arm',            ['address'],                              'nothing', 'machine', 'needs-handler', 'arm a wake-up address (gem5: quiesce support)'],
  [0x01, 'quiesce',        [],                                       'nothing', 'machine', 'needs-handler', 'sleep until woken'],
  [0x02, 'quiescens',      ['ns'],                                   'nothing', 'machine', 'needs-handler', 'sleep for ns nanoseconds'],
  [0x03, 'quiescecycle',   ['cycles'],                               'nothing', 'machine', 'needs-handler', 'sleep for a number of cycles'],
  [0x04, 'quiescetime',    [],                                       'value',   'machine', 'needs-handler', 'time spent quiesced'],
  [0x07, 'rpns',           [],                                       'value',   'machine', 'needs-handler', 'simulated time in ns'],
  [0x09, 'wakecpu',        ['cpuid'],                                'nothing', 'machine', 'needs-handler', 'wake a quiesced CPU'],
  [0x21, 'exit',           ['delayNs'],                              'nothing', 'machine', 'end-run',       'end the run'],
  [0x22, 'fail',           ['delayNs', 'code'],                      'nothing', 'machine', 'end-run',       'end the run as a failure with a code'],
  [0x30, 'initparam',      ['key1', 'key2'],                         'value',   'machine', 'needs-handler', 'a configuration value for the guest'],
  [0x31, 'loadsymbol',     [],                                       'nothing', 'machine', 'needs-handler', 'load the guest symbol table'],
  [0x40, 'resetstats',     ['delayNs', 'periodNs'],                  'nothing', 'machine', 'builtin',       'reset the statistics'],
  [0x41, 'dumpstats',      ['delayNs', 'periodNs'],                  'nothing', 'machine', 'builtin',       'record a statistics dump'],
  [0x42, 'dumpresetstats', ['delayNs', 'periodNs'],                  'nothing', 'machine', 'builtin',       'record a statistics dump, then reset'],
  [0x43, 'checkpoint',     ['delayNs', 'periodNs'],                  'nothing', 'machine', 'needs-handler', 'take a checkpoint'],
  [0x4f, 'writefile',      ['address', 'length', 'offset', 'filenameAddress'], 'bytes', 'thread', 'needs-handler', 'write a guest buffer to a file in the output directory'],
  [0x50, 'readfile',       ['address', 'length', 'offset'],          'bytes',   'thread',  'needs-handler', 'copy the configured host file into guest memory'],
  [0x51, 'debugbreak',     [],                                       'nothing', 'machine', 'needs-handler', 'break into the debugger'],
  [0x52, 'switchcpu',      [],                                       'nothing', 'machine', 'needs-handler', 'switch to another CPU model'],
  [0x53, 'addsymbol',      ['address', 'symbolAddress'],             'nothing', 'machine', 'needs-handler', 'add a guest symbol'],
  [0x54, 'panic',          [],                                       'nothing', 'machine', 'needs-handler', 'the guest panicked'],
  [0x5a, 'workbegin',      ['workId', 'threadId'],                   'nothing', 'machine', 'builtin',       'a unit of work begins'],
  [0x5b, 'workend',        ['workId', 'threadId'],                   'nothing', 'machine', 'builtin',       'a unit of work ends'],
  [0x62, 'disttogglesync', [],                                       'nothing', 'machine', 'needs-handler', 'toggle synchronisation of distributed gem5'],
];

/** Every gem5 m5op, by function number. */
export const M5OP_TABLE: readonly M5opInfo[] = Object.freeze(
  ROWS.map(([func, name, args, returns, where, dflt, summary]) => Object.freeze({ func, name, args: Object.freeze([...args]), returns, where, default: dflt, summary })),
);

const BY_FUNC: readonly (M5opInfo | undefined)[] = (() => {
  const t: (M5opInfo | undefined)[] = new Array(256).fill(undefined);
  for (const op of M5OP_TABLE) t[op.func] = op;
  return t;
})();
const BY_NAME: ReadonlyMap<string, M5opInfo> = new Map(M5OP_TABLE.map((op) => [op.name, op]));

/** Ops decode at most this many argument registers (gem5's six integer argument registers). */
export const M5OP_MAX_ARGS = 6;

/** The op with function number `func`, or undefined (not one of gem5's numbers). */
export function m5opByFunc(func: number): M5opInfo | undefined {
  return Number.isInteger(func) && func >= 0 && func < 256 ? BY_FUNC[func] : undefined;
}

/** The op named `name` (the `m5` utility's command name: 'exit', 'dumpstats', …), or undefined. */
export function m5opByName(name: string): M5opInfo | undefined {
  return BY_NAME.get(name);
}

/** The name an op is reported under: its table name, or `unknown-0x<func>` for a number gem5 does not define. */
export function m5opName(func: number): string {
  return m5opByFunc(func)?.name ?? `unknown-0x${func.toString(16).padStart(2, '0')}`;
}

/** gem5's MMIO window is 64 KiB; the function number is address bits [15:8]. */
export const M5OP_WINDOW_SIZE = 0x10000;

/** Function number of an access at `offset` in the MMIO window (bits [15:8]; bits [7:0] are ignored, as in gem5). */
export function m5opFuncFromOffset(offset: number): number {
  return (offset >>> 8) & 0xff;
}

/** Offset in the MMIO window that calls `func` (what gem5's util/m5 reads). */
export function m5opOffset(func: number): number {
  return (func & 0xff) << 8;
}

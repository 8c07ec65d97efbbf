/**
 * How a restore hands a saved vCPU context to the vCPU thread (vcpu-state-transfer.ts on the main
 * thread, vcpu-state.ts's restoreVcpuState in the thread): sent and decoded the first time, only
 * named by its section's checksum when the thread holds it, sent again when the thread let it go
 * — on a stand-in thread that runs the real restoreVcpuState over structured clones of the
 * messages, as postMessage delivers them.
 */
// Internal modules, so their own types (not the package's built ones).
import type { ArchPlugin } from '../src/machine/arch-plugin';
import type { KvmCPU } from '../src/cpu/kvm-cpu';
import type { ThreadContext } from '../src/cpu/thread-context';
import type { VcpuController } from '../src/machine/vcpu-controller';
import { contextKey, restoreVcpuThread } from '../src/checkpoint/vcpu-state-transfer';
import { HELD_CONTEXTS, restoreVcpuState, type SavedVcpuState } from '../src/checkpoint/vcpu-state';

/** A vCPU thread: what it was sent, what it decoded, what its CPU took over. */
function standInThread() {
  const messages: SavedVcpuState[] = [];
  const decoded: unknown[] = [];
  const loaded: unknown[] = [];
  const arch = {
    threadContextFromData(data: unknown): ThreadContext {
      decoded.push(data);
      return { arch: 'test', toJSON: () => data };
    },
  } as unknown as ArchPlugin;
  const cpu = { takeOverFrom: (tc: ThreadContext) => loaded.push(tc.toJSON()) } as unknown as KvmCPU;
  const vcpu = {
    call: (method: string, state: SavedVcpuState) => {
      expect(method).toBe('restoreVcpuState');
      const delivered = structuredClone(state);
      messages.push(delivered);
      return Promise.resolve(restoreVcpuState(cpu, arch, [], delivered));
    },
  } as unknown as VcpuController;
  return { vcpu, cpu, arch, messages, decoded, loaded };
}

const state = (n: number) => ({ threadContext: { regs: { rip: BigInt(n) } }, deviceStates: {}, simTicks: 0n });

describe('a saved vCPU context on its way to the vCPU thread', () => {
  it('is sent and decoded once; restoring the same section again names it by key, and the CPU takes over the same state', async () => {
    const t = standInThread();
    const key = contextKey('test', 1, 'a'.repeat(64));
    expect(key).toBe(`test/1/${'a'.repeat(64)}`);
    await restoreVcpuThread(t.vcpu, state(1), key);
    await restoreVcpuThread(t.vcpu, state(1), key);
    await restoreVcpuThread(t.vcpu, state(1), key);
    expect(t.messages.map((m) => 'threadContext' in m)).toEqual([true, false, false]);
    expect(t.messages.every((m) => m.contextKey === key)).toBe(true);
    expect(t.decoded).toHaveLength(1);
    expect(t.loaded).toEqual([{ regs: { rip: 1n } }, { regs: { rip: 1n } }, { regs: { rip: 1n } }]);
  });

  it('another section (another checksum) is sent and decoded anew', async () => {
    const t = standInThread();
    await restoreVcpuThread(t.vcpu, state(1), contextKey('test', 1, 'b'.repeat(64)));
    await restoreVcpuThread(t.vcpu, state(2), contextKey('test', 1, 'c'.repeat(64)));
    await restoreVcpuThread(t.vcpu, state(2), contextKey('test', 2, 'c'.repeat(64))); // another format version
    expect(t.messages.map((m) => 'threadContext' in m)).toEqual([true, true, true]);
    expect(t.loaded).toEqual([{ regs: { rip: 1n } }, { regs: { rip: 2n } }, { regs: { rip: 2n } }]);
  });

  it(`a thread that let the context go (it held ${HELD_CONTEXTS} others since) answers context-not-held, changing nothing, and is sent it again`, async () => {
    const t = standInThread();
    const first = contextKey('test', 1, 'd'.repeat(64));
    await restoreVcpuThread(t.vcpu, state(1), first);
    // Other machines' restores on the same thread (through other controllers) push it out.
    const other = standInThread();
    for (let i = 0; i < HELD_CONTEXTS; i++) await restoreVcpuThread(other.vcpu, state(10 + i), contextKey('test', 1, String(i).repeat(64)));
    t.messages.length = 0;
    t.loaded.length = 0;
    await restoreVcpuThread(t.vcpu, state(1), first);
    // The named attempt took nothing over; the resend did.
    expect(t.messages.map((m) => 'threadContext' in m)).toEqual([false, true]);
    expect(t.loaded).toEqual([{ regs: { rip: 1n } }]);
    // And it is held again.
    await restoreVcpuThread(t.vcpu, state(1), first);
    expect(t.messages.map((m) => 'threadContext' in m)).toEqual([false, true, false]);
  });

  it('a bare name the thread does not hold restores nothing', () => {
    const t = standInThread();
    expect(restoreVcpuState(t.cpu, t.arch, [], { contextKey: contextKey('test', 1, 'e'.repeat(64)), deviceStates: {}, simTicks: 0n })).toBe('context-not-held');
    expect([t.loaded, t.decoded]).toEqual([[], []]);
  });
});

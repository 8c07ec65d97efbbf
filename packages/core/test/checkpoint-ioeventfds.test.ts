/**
 * The `vm.ioeventfds` section (checkpoint/ioeventfd-state.ts): its golden bytes, its checks, and
 * how a restore makes a VM's registrations the saved ones — on a stand-in VM that records the
 * registrations (the KVM side is shown by arch-x86's checkpoint-ioeventfd.kvm.test.ts).
 */
import { CheckpointError, IOEVENTFD_SECTION, decodeSection, encodeSection, ioeventfdComponent, savedIoeventfds, type CheckpointContext, type IoeventfdBinding, type IoeventfdOptions, type KvmVM } from '@kvmts/core';

/** The registration half of a KvmVM: what the component uses, with the calls it made. */
class RegistrationsVm {
  readonly bindings: IoeventfdBinding[] = [];
  readonly calls: string[] = [];
  private nextFd = 100;

  addIoeventfd(o: IoeventfdOptions): number {
    const fd = o.fd ?? this.nextFd++;
    this.bindings.push({ address: o.address, length: o.length, pio: o.pio === true, ...(o.datamatch !== undefined ? { datamatch: o.datamatch } : {}), fd });
    this.calls.push(`add ${o.pio ? 'pio' : 'mmio'} 0x${o.address.toString(16)} → fd ${fd}`);
    return fd;
  }

  removeIoeventfd(b: IoeventfdBinding): void {
    this.bindings.splice(this.bindings.indexOf(b), 1);
    this.calls.push(`remove fd ${b.fd}`);
  }

  ioeventfds(): readonly IoeventfdBinding[] {
    return [...this.bindings];
  }
}

const ctxOf = (vm: RegistrationsVm): CheckpointContext => ({ vm: vm as unknown as KvmVM }) as CheckpointContext;

describe('checkpoint section vm.ioeventfds', () => {
  it('saves each registration (not its eventfd) in registration order, as these golden bytes', () => {
    const vm = new RegistrationsVm();
    vm.addIoeventfd({ address: 0x10, length: 1, pio: true, datamatch: 0x5an });
    vm.addIoeventfd({ address: 0xd000_0000, length: 4 });
    const saved = ioeventfdComponent.save(ctxOf(vm));
    expect(ioeventfdComponent).toMatchObject({ name: IOEVENTFD_SECTION, version: 1 });
    expect(IOEVENTFD_SECTION).toBe('vm.ioeventfds');
    const bytes = encodeSection(saved, IOEVENTFD_SECTION);
    expect(Buffer.from(bytes).toString('utf8')).toBe(
      '{"ioeventfds":[{"address":16,"length":1,"pio":true,"datamatch":{"$bigint":"0x5a"}},{"address":3489660928,"length":4,"pio":false,"datamatch":null}]}',
    );
    expect(savedIoeventfds(decodeSection(bytes, IOEVENTFD_SECTION))).toEqual([
      { address: 0x10, length: 1, pio: true, datamatch: 0x5an },
      { address: 0xd000_0000, length: 4, pio: false, datamatch: null },
    ]);
  });

  it('restore keeps a saved registration the VM has, unregisters one it does not, registers the missing ones on new eventfds', () => {
    const state = {
      ioeventfds: [
        { address: 0x10, length: 1, pio: true, datamatch: 0x5an },
        { address: 0xd000_0000, length: 4, pio: false, datamatch: null },
      ],
    };
    const vm = new RegistrationsVm();
    vm.addIoeventfd({ address: 0xd000_0000, length: 4 }); // fd 100: the machine's own (kept)
    vm.addIoeventfd({ address: 0x20, length: 2, pio: true }); // fd 101: not in the checkpoint
    vm.addIoeventfd({ address: 0x10, length: 1, pio: true, datamatch: 0x5bn }); // fd 102: another datamatch
    vm.calls.length = 0;
    ioeventfdComponent.restore(ctxOf(vm), state);
    expect(vm.calls).toEqual(['remove fd 101', 'remove fd 102', 'add pio 0x10 → fd 103']);
    expect(vm.ioeventfds()).toEqual([
      { address: 0xd000_0000, length: 4, pio: false, fd: 100 },
      { address: 0x10, length: 1, pio: true, datamatch: 0x5an, fd: 103 },
    ]);
    // The same state again changes nothing.
    vm.calls.length = 0;
    ioeventfdComponent.restore(ctxOf(vm), state);
    expect(vm.calls).toEqual([]);
  });

  it.each([
    [null, `section 'vm.ioeventfds'`, 'must hold { ioeventfds: [...] }'],
    [{ ioeventfds: [{ address: -1, length: 1, pio: true, datamatch: null }] }, 'ioeventfds[0].address', 'an unsigned integer'],
    [{ ioeventfds: [{ address: 0x10, length: 3, pio: true, datamatch: null }] }, 'ioeventfds[0].length', 'one of 0, 1, 2, 4, 8'],
    [{ ioeventfds: [{ address: 0x10, length: 1, pio: 'yes', datamatch: null }] }, 'ioeventfds[0].pio', 'a boolean'],
    [{ ioeventfds: [{ address: 0x10000, length: 1, pio: true, datamatch: null }] }, 'ioeventfds[0].address', 'a port'],
    [{ ioeventfds: [{ address: 0x10, length: 1, pio: true, datamatch: 5 }] }, 'ioeventfds[0].datamatch', 'null or a bigint'],
    [{ ioeventfds: [{ address: 0x10, length: 1, pio: true, datamatch: null }, 7] }, 'ioeventfds[1].address', 'an unsigned integer'],
  ])('a damaged section %j is a corrupt CheckpointError naming %s, and the VM is left alone', (state, field, expected) => {
    const vm = new RegistrationsVm();
    vm.addIoeventfd({ address: 0x20, length: 2, pio: true });
    vm.calls.length = 0;
    let error: unknown;
    try {
      ioeventfdComponent.restore(ctxOf(vm), state);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error).toMatchObject({ code: 'corrupt' });
    expect((error as Error).message).toContain(field);
    expect((error as Error).message).toContain(expected);
    expect(vm.calls).toEqual([]);
  });
});

/** The VM's virtual counter across pauses, with two vCPUs' transports recording the TIMER_CNT traffic. */
import { Arm64TimerRegId, VirtualCounter, createVirtualCounterState, type OneRegTransport } from '../src';

/** The VM-wide counter: one value, whichever vCPU reads or writes it. */
class Vm {
  count = 1000n;
  log: string[] = [];
  transport(vcpu: number): OneRegTransport {
    return {
      get: (id) => {
        expect(id).toBe(Arm64TimerRegId.TIMER_CNT);
        this.log.push(`vCPU ${vcpu} saves ${this.count}`);
        return this.count;
      },
      set: (id, value) => {
        expect(id).toBe(Arm64TimerRegId.TIMER_CNT);
        this.log.push(`vCPU ${vcpu} restores ${value}`);
        this.count = value;
      },
      list: () => [],
    };
  }
}

describe('virtual counter saved and restored per VM across pauses', () => {
  it('is saved by the last vCPU out and restored by the first vCPU in, once per pause', () => {
    const vm = new Vm();
    const shared = createVirtualCounterState();
    const a = new VirtualCounter(shared, vm.transport(0));
    const b = new VirtualCounter(shared, vm.transport(1));
    a.enter();
    b.enter(); // the first run: nothing saved, nothing restored
    vm.count = 5000n;
    a.leave(); // b still runs: the VM is not paused
    b.leave();
    expect(a.savedCount()).toBe(5000n);
    vm.count = 9000n; // time passes in the host while the VM is paused
    b.enter();
    a.enter();
    expect(vm.count).toBe(5000n); // the guest sees no time pass
    expect(vm.log).toEqual(['vCPU 1 saves 5000', 'vCPU 1 restores 5000']);
  });

  it('keeps one saved count per VM', () => {
    const vm1 = new Vm();
    const vm2 = new Vm();
    const c1 = new VirtualCounter(createVirtualCounterState(), vm1.transport(0));
    const c2 = new VirtualCounter(createVirtualCounterState(), vm2.transport(0));
    vm2.count = 7n;
    c1.enter();
    c1.leave();
    c2.enter();
    c2.leave();
    expect([c1.savedCount(), c2.savedCount()]).toEqual([1000n, 7n]);
  });
});

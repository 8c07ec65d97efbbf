/**
 * IrqfdDiversion (vm/irqfd-diversion.ts) on the host: real eventfds, the KVM_IRQFD calls
 * recorded (there is no VM here; the nested arm64 tier's gic-mux suite runs it against KVM).
 */
import * as fs from 'node:fs';
import * as native from '@kvmts/native';
import { ConfigError, IrqfdDiversion, eventfdCount, type IrqfdBinding, type IrqfdRoute } from '@kvmts/core';
import { irqfdsDivertedBy } from '../src/vm/irqfd-ioctl';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function recordingRoute(log: string[], failDeassignOf?: number): IrqfdRoute {
  return {
    assign: (b) => void log.push(`assign gsi ${b.gsi}`),
    deassign: (b) => {
      if (b.gsi === failDeassignOf) throw new ConfigError('irqfd', `gsi ${b.gsi} refused`);
      log.push(`deassign gsi ${b.gsi}`);
    },
  };
}

describe('IrqfdDiversion', () => {
  let fds: number[] = [];
  let bindings: IrqfdBinding[];
  /** The VM as the diversion sees it: its bindings and its phase. */
  let vmState: { irqfds: () => IrqfdBinding[]; phase: 'drained' | 'closed' };
  beforeEach(() => {
    vmState = { irqfds: () => bindings, phase: 'drained' };
    fds = [native.eventfd(0, 0), native.eventfd(0, 0), native.eventfd(0, 0)];
    bindings = [
      { gsi: 12, fd: fds[0] },
      { gsi: 13, fd: fds[1] },
      { gsi: 20, fd: fds[2] },
    ];
  });
  afterEach(() => fds.forEach((fd) => fs.closeSync(fd)));
  const vm = () => vmState;

  it('eventfdCount reads a counter without consuming it; a non-eventfd is a ConfigError', () => {
    expect(eventfdCount(fds[0])).toBe(0n);
    native.eventfdWrite(fds[0], 3n);
    expect(eventfdCount(fds[0])).toBe(3n);
    expect(eventfdCount(fds[0])).toBe(3n);
    expect(() => eventfdCount(0)).toThrow(ConfigError);
    expect(() => eventfdCount(0)).toThrow('irqfd: fd 0 is not an eventfd');
  });

  it('takes every binding from the kernel, hands each trigger on once per eventfd, and gives them back in order (golden sequence)', () => {
    const log: string[] = [];
    const d = IrqfdDiversion.start(vm(), recordingRoute(log), (gsi) => log.push(`trigger gsi ${gsi}`), 60_000);
    expect(d.drain()).toEqual([]);
    native.eventfdWrite(fds[2], 1n);
    native.eventfdWrite(fds[0], 1n);
    native.eventfdWrite(fds[0], 1n); // two writes before a read: one edge
    expect(d.drain()).toEqual([12, 20]);
    expect(d.drain()).toEqual([]);
    expect(eventfdCount(fds[0])).toBe(0n);
    native.eventfdWrite(fds[1], 1n);
    d.drain();
    native.eventfdWrite(fds[1], 1n); // after the last drain: left for KVM, which injects it as it binds the eventfd
    d.giveBack();
    expect(eventfdCount(fds[1])).toBe(1n);
    expect(d.drain()).toEqual([]); // given back: nothing more is read
    d.giveBack(); // once
    expect(log).toEqual([
      'deassign gsi 12',
      'deassign gsi 13',
      'deassign gsi 20',
      'trigger gsi 12',
      'trigger gsi 20',
      'trigger gsi 13',
      'assign gsi 12',
      'assign gsi 13',
      'assign gsi 20',
    ]);
  });

  it('polls the eventfds on its own while diverted', async () => {
    const seen: number[] = [];
    const d = IrqfdDiversion.start(vm(), recordingRoute([]), (gsi) => seen.push(gsi), 1);
    native.eventfdWrite(fds[1], 1n);
    for (let i = 0; i < 200 && seen.length === 0; i++) await sleep(5);
    expect(seen).toEqual([13]);
    d.giveBack();
  });

  it('a binding the kernel will not give up puts back those it gave, and throws', () => {
    const log: string[] = [];
    expect(() => IrqfdDiversion.start(vm(), recordingRoute(log, 20), () => undefined)).toThrow('irqfd: gsi 20 refused');
    expect(log).toEqual(['deassign gsi 12', 'deassign gsi 13', 'assign gsi 12', 'assign gsi 13']);
  });

  it('what handing a trigger on threw during a poll is thrown by giveBack, after every binding is back', async () => {
    const log: string[] = [];
    const d = IrqfdDiversion.start(vm(), recordingRoute(log), (gsi) => {
      throw new ConfigError('intid', `no SPI for gsi ${gsi}`);
    }, 1);
    native.eventfdWrite(fds[0], 1n);
    for (let i = 0; i < 200 && eventfdCount(fds[0]) !== 0n; i++) await sleep(5);
    expect(() => d.giveBack()).toThrow('intid: no SPI for gsi 12');
    expect(log.slice(-3)).toEqual(['assign gsi 12', 'assign gsi 13', 'assign gsi 20']);
  });

  it("one irqfd's failing trigger does not stop the others' delivery; the failure is kept for giveBack", () => {
    const log: string[] = [];
    const d = IrqfdDiversion.start(vm(), recordingRoute(log), (gsi) => {
      if (gsi === 12) throw new ConfigError('intid', 'no SPI for gsi 12');
      log.push(`trigger gsi ${gsi}`);
    }, 60_000);
    native.eventfdWrite(fds[0], 1n);
    native.eventfdWrite(fds[2], 1n);
    expect(d.drain()).toEqual([12, 20]);
    native.eventfdWrite(fds[1], 1n);
    expect(d.drain()).toEqual([13]);
    expect(d.failed).toBeInstanceOf(ConfigError);
    expect(() => d.giveBack()).toThrow('intid: no SPI for gsi 12');
    expect(log.slice(3)).toEqual(['trigger gsi 20', 'trigger gsi 13', 'assign gsi 12', 'assign gsi 13', 'assign gsi 20']);
    expect(() => d.giveBack()).not.toThrow(); // once
  });

  it('a binding that cannot be bound again is skipped and reported; the others are bound, each once', () => {
    const log: string[] = [];
    const route = recordingRoute(log);
    const d = IrqfdDiversion.start(vm(), { ...route, assign: (b) => {
      if (b.gsi === 13) throw new ConfigError('irqfd', 'eventfd closed');
      route.assign(b);
    } }, () => undefined, 60_000);
    expect(() => d.giveBack()).toThrow('irqfd: eventfd closed');
    d.giveBack();
    expect(log).toEqual(['deassign gsi 12', 'deassign gsi 13', 'deassign gsi 20', 'assign gsi 12', 'assign gsi 20']);
  });

  it("marks the VM's irqfds as held while diverted (core's VM then refuses to add or remove one), and unmarks them at giveBack", () => {
    const d = IrqfdDiversion.start(vm(), recordingRoute([]), () => undefined, 60_000, 'the test');
    expect(irqfdsDivertedBy(vmState)).toBe('the test');
    d.giveBack();
    expect(irqfdsDivertedBy(vmState)).toBeUndefined();
  });

  it('stops when the VM closes: its eventfds are not read (their numbers may name other files by then) and nothing is bound again', () => {
    const log: string[] = [];
    const d = IrqfdDiversion.start(vm(), recordingRoute(log), (gsi) => log.push(`trigger gsi ${gsi}`), 60_000);
    native.eventfdWrite(fds[0], 1n);
    vmState.phase = 'closed';
    expect(d.drain()).toEqual([]);
    d.giveBack();
    expect(eventfdCount(fds[0])).toBe(1n);
    expect(log).toEqual(['deassign gsi 12', 'deassign gsi 13', 'deassign gsi 20']);
  });
});

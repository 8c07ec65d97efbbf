/**
 * ioeventfds registered while a machine runs are part of its checkpoint (section vm.ioeventfds):
 * a guest's doorbell writes (guests/ioeventfd-tests.S) signal the re-registered eventfds after a
 * restore — into a fresh machine, and back into the machine that saved, after it dropped its own
 * and registered another — with the datamatch kept. A checkpoint without the section (made
 * before kvmts saved ioeventfds) is refused by name.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as native from '@kvmts/native';
import { CheckpointError, parseManifest, restoreMachine, createMachine, serializeManifest, type IoeventfdBinding, type Machine, type MachineConfig } from '@kvmts/core';
import { assembleGuest, exitDevice, m5ops, readExitDeviceState, type X86Boot } from '@kvmts/arch-x86';

const guest = assembleGuest('ioeventfd-tests');
const MMIO = 0xd000_0000;
const FOUR_GIB = 2 ** 32;
const quiet = { console: () => undefined };

const config: MachineConfig<X86Boot> = {
  arch: 'x86_64',
  memory: '16M',
  archOptions: { irqchip: 'kernel' },
  devices: [...m5ops(), exitDevice({}, 'exit')],
  boot: { kind: 'flat', mode: 'long', cpl: 0, image: guest.bytes, entry: guest.symbols.get('doorbells')!, mapBytes: FOUR_GIB, registers: [{ r12: BigInt(MMIO) }] },
};

/** The two registrations the test makes, as the VM lists them (the eventfds are the VM's own). */
const SAVED = [
  { address: 0x10, length: 1, pio: true, datamatch: 0x5an, fd: expect.any(Number) },
  { address: MMIO, length: 4, pio: false, fd: expect.any(Number) },
];

const find = (m: Machine, address: number): IoeventfdBinding => m.vm.ioeventfds().find((b) => b.address === address)!;
const result = (m: Machine): number => readExitDeviceState(m.deviceState.get('exit')!).result;

/** Run the guest from its checkpoint m5op to the end; each doorbell's eventfd must have been signalled once. */
async function ringsBothDoorbells(m: Machine): Promise<void> {
  expect(await m.run()).toEqual({ reason: 'poweroff', status: 0 });
  expect(result(m)).toBe(0x10ef);
  // KVM signals the eventfd in the writing vCPU's context: the count is there when the run ends.
  // 1, not 2: the 0x5b write does not match the datamatch (the restored registration kept it).
  expect(native.eventfdRead(find(m, 0x10).fd)).toBe(1n);
  expect(native.eventfdRead(find(m, MMIO).fd)).toBe(1n);
}

describeKvm('ioeventfds in checkpoints (x86)', () => {
  let machines: Machine[] = [];
  let work: string;
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-ckpt-ioeventfd-'));
  });
  afterEach(async () => {
    await Promise.all(machines.map((m) => m.close()));
    machines = [];
    fs.rmSync(work, { recursive: true, force: true });
  });
  const keep = (m: Machine): Machine => (machines.push(m), m);

  /** A machine stopped at the guest's checkpoint m5op, with both ioeventfds registered at run time, saved to `dir`. */
  async function savedAtM5op(dir: string): Promise<Machine> {
    const m = keep(await createMachine(config, quiet));
    m.m5ops.handle('checkpoint', () => 'end-run');
    expect(await m.run()).toMatchObject({ reason: 'm5op-end', call: { op: 'checkpoint' } });
    m.vm.addIoeventfd({ address: 0x10, length: 1, pio: true, datamatch: 0x5an });
    m.vm.addIoeventfd({ address: MMIO, length: 4 });
    const manifest = await m.checkpoint(dir);
    expect(manifest.sections.map((s) => s.name)).toContain('vm.ioeventfds');
    return m;
  }

  it('registered on a running machine: saved, re-registered on new eventfds, and the guest rings them after the restore (fresh machine, and back in the saving one)', async () => {
    const dir = path.join(work, 'ckpt');
    const m = await savedAtM5op(dir);

    const r = keep(await restoreMachine(dir, quiet));
    expect(r.vm.ioeventfds()).toEqual(SAVED);
    await ringsBothDoorbells(r);

    // Back into the saving machine: its own registrations dropped, another one made; the restore
    // makes the set the saved one again.
    for (const b of m.vm.ioeventfds()) m.vm.removeIoeventfd(b);
    m.vm.addIoeventfd({ address: 0x20, length: 2, pio: true });
    await m.restore(dir, { verifyMemory: false });
    expect(m.vm.ioeventfds()).toEqual(SAVED);
    await ringsBothDoorbells(m);
  });

  it('a checkpoint without the vm.ioeventfds section (an older kvmts) is refused naming it, code missing', async () => {
    const dir = path.join(work, 'old');
    await savedAtM5op(dir);
    const file = path.join(dir, 'manifest.json');
    const manifest = parseManifest(fs.readFileSync(file, 'utf8'), dir);
    const { checksum: _checksum, ...rest } = manifest as typeof manifest & { checksum?: string };
    // The section's line goes from the sections file too, the others' offsets follow.
    const sectionsFile = path.join(dir, 'sections.jsonl');
    const lines = fs.readFileSync(sectionsFile);
    const kept: (typeof manifest.sections)[number][] = [];
    const keptLines: Buffer[] = [];
    let offset = 0;
    for (const s of manifest.sections.filter((s) => s.name !== 'vm.ioeventfds')) {
      keptLines.push(lines.subarray(s.offset, s.offset + s.bytes + 1));
      kept.push({ ...s, offset });
      offset += s.bytes + 1;
    }
    expect(kept.length).toBe(manifest.sections.length - 1);
    fs.writeFileSync(sectionsFile, Buffer.concat(keptLines));
    fs.writeFileSync(file, serializeManifest({ ...rest, sections: kept }));
    const refused = await restoreMachine(dir, quiet).then(
      (r) => (keep(r), undefined),
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(CheckpointError);
    expect(refused).toMatchObject({ code: 'missing', message: expect.stringContaining("section 'vm.ioeventfds'") });
  });
});

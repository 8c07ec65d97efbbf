/**
 * The in-kernel vGIC as a checkpoint component (core's CheckpointComponent), section
 * 'gic.vgic-v3'. It takes the place of arch-arm64's refusal in machines whose GIC dev-gic
 * created. Ordering, against core's save and restore sequences:
 *
 *  save     the component runs while no vCPU runs and before any file is written, so the
 *           guest-memory writes come first — SAVE_PENDING_TABLES (LPI pending bits into the
 *           GICR_PENDBASER tables) and each ITS's ITS_SAVE_TABLES — and then reach the memory
 *           image; then the registers (./v3-state.ts).
 *  restore  core restores components after the VM, its vCPUs (created and KVM_ARM_VCPU_INIT'd
 *           in the same order, so each MPIDR finds its redistributor) and the GIC (created
 *           with the saved NR_IRQS, CTRL_INIT done) exist and guest memory holds the image,
 *           before any vCPU runs: the GIC's registers, then the ITS's (ITS_RESTORE_TABLES
 *           reads the restored memory). vCPU registers come later; none of them is GIC state
 *           (the ICC registers travel here).
 */
import { CheckpointError, type CheckpointComponent, type CheckpointContext } from '@kvmts/core';
import { kernelGicOf, type KernelGic } from './kernel-gic';
import { muxedModelIo } from './gic-mux';
import { flushPendingTables, restoreIts, restoreVgicV3, saveIts, saveVgicV3, type ItsState, type VgicV3State } from './v3-state';

export const VGIC_V3_SECTION = 'gic.vgic-v3';

interface SavedVgic {
  readonly gic: VgicV3State;
  readonly its: ItsState | null;
}

function gicOf(ctx: CheckpointContext, code: 'not-saveable' | 'incompatible'): KernelGic {
  const gic = kernelGicOf(ctx.vm);
  if (!gic) throw new CheckpointError(VGIC_V3_SECTION, 'the VM has no in-kernel GIC created by @kvmts/dev-gic', { code });
  if (gic.version !== 3) throw new CheckpointError(VGIC_V3_SECTION, `the VM's GIC is a vGICv${gic.version}: only the vGICv3's state is saved`, { code });
  return gic;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The section's data, its shape checked (its values are checked register by register on the way in). */
function parseSaved(data: unknown): SavedVgic {
  const bad = (what: string) => new CheckpointError(`${VGIC_V3_SECTION} ${what}`, 'is missing or malformed', { code: 'corrupt' });
  if (!isRecord(data) || !isRecord(data.gic)) throw bad('gic');
  const g = data.gic;
  if (typeof g.nrIrqs !== 'number') throw bad('gic.nrIrqs');
  if (!isRecord(g.distributor)) throw bad('gic.distributor');
  if (!Array.isArray(g.spiLineLevels)) throw bad('gic.spiLineLevels');
  if (!Array.isArray(g.cpus)) throw bad('gic.cpus');
  g.cpus.forEach((c: unknown, i) => {
    if (!isRecord(c) || typeof c.mpidr !== 'bigint' || !isRecord(c.redistributor) || typeof c.privateLineLevels !== 'number' || !isRecord(c.cpuInterface)) throw bad(`gic.cpus[${i}]`);
  });
  if (data.its !== null && !(isRecord(data.its) && isRecord(data.its.registers))) throw bad('its');
  return data as unknown as SavedVgic;
}

export const vgicV3CheckpointComponent: CheckpointComponent = {
  name: VGIC_V3_SECTION,
  version: 1,
  save(ctx: CheckpointContext): SavedVgic {
    const gic = gicOf(ctx, 'not-saveable');
    // Handed to the userspace model (./gic-mux.ts; never with an ITS): the model is the GIC.
    const model = muxedModelIo(ctx.vm);
    if (model) return { gic: saveVgicV3(model, gic.layout), its: null };
    let its: ItsState | null = null;
    if (gic.its) {
      // Both write guest memory, which is saved after the components.
      flushPendingTables(gic.device);
      its = saveIts(gic.its);
    }
    return { gic: saveVgicV3(gic.device, gic.layout), its };
  },
  restore(ctx: CheckpointContext, data: unknown): void {
    const saved = parseSaved(data);
    const gic = gicOf(ctx, 'incompatible');
    if ((saved.its !== null) !== (gic.its !== undefined)) {
      throw new CheckpointError(`${VGIC_V3_SECTION} its`, `the saved GIC ${saved.its ? 'had' : 'had no'} ITS, this one ${gic.its ? 'has' : 'has none'}: restore with the same GIC plugin`, { code: 'incompatible' });
    }
    restoreVgicV3(muxedModelIo(ctx.vm) ?? gic.device, gic.layout, saved.gic);
    if (gic.its && saved.its) restoreIts(gic.its, saved.its);
  },
};

/** A vGICv2 machine's stand-in: its state transfer is not written yet, so a checkpoint fails naming it. */
export const vgicV2CheckpointRefusal: CheckpointComponent = {
  name: 'gic.vgic-v2',
  version: 1,
  save() {
    throw new CheckpointError('gic.vgic-v2', "the in-kernel vGICv2's state is not saved yet: checkpoint machines with the vGICv3 (@kvmts/dev-gic)", { code: 'not-saveable' });
  },
  restore() {
    throw new CheckpointError('gic.vgic-v2', "the in-kernel vGICv2's state is not restored yet", { code: 'incompatible' });
  },
};

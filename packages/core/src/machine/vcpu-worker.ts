/**
 * Entry point of a vCPU worker thread: a VcpuHost (vcpu-host.ts) answering the machine over the
 * thread's port. A run holds the thread until the vCPU stops; another thread stops it with the
 * kick (cpu/vcpu-control.ts).
 *
 * The thread outlives its machine: it starts empty (modules loaded, nothing built), builds a
 * vCPU on 'build', and on 'exit' drops that vCPU and its devices and says 'released', ready to
 * build the next machine's vCPU (vcpu-worker-pool.ts keeps such threads).
 */
import 'reflect-metadata';
import { parentPort } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './worker-protocol';
import { setNoticeSink } from '../timing/pmu';
import { VcpuHost } from './vcpu-host';

const port = parentPort!;
// The machine's thread gives the one-time notices (VcpuController), once per process.
setNoticeSink(() => undefined);
// A thread whose build failed is never reused: it ends (the machine has the error already).
const host = new VcpuHost((m: FromWorker) => port.postMessage(m), { onBuildFailed: () => process.exit(0) });
port.on('message', (m: ToWorker) => host.handle(m));

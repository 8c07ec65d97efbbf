/**
 * KVM_GET/SET_ONE_REG and KVM_GET_REG_LIST on one vCPU fd. kvm_one_reg carries a user pointer
 * to the value, so the value lives in a ScratchBuffer (native memory with a known address);
 * both buffers are allocated once per vCPU.
 */
import * as native from '@kvmts/native';
import { KvmError, KvmIoctl, OneRegLayout, RegListLayout, ScratchBuffer, errnoCode } from '@kvmts/core';
import { oneRegBytes } from '../abi';
import type { OneRegTransport } from './register-sync';

const E2BIG = 7;
const U64 = 0xffff_ffff_ffff_ffffn;

export class OneRegIo implements OneRegTransport {
  private readonly req = new DataView(new ArrayBuffer(OneRegLayout.size));
  private readonly value = new ScratchBuffer(4096);

  constructor(private readonly fd: number) {
    this.req.setBigUint64(OneRegLayout.addr, this.value.address, true);
  }

  get(id: bigint): bigint {
    this.call(KvmIoctl.GET_ONE_REG, 'KVM_GET_ONE_REG', id);
    const v = this.value.view;
    switch (oneRegBytes(id)) {
      case 4:
        return BigInt(v.getUint32(0, true));
      case 8:
        return v.getBigUint64(0, true);
      default:
        return v.getBigUint64(0, true) | (v.getBigUint64(8, true) << 64n);
    }
  }

  set(id: bigint, value: bigint): void {
    const v = this.value.view;
    switch (oneRegBytes(id)) {
      case 4:
        v.setUint32(0, Number(value & 0xffff_ffffn), true);
        break;
      case 8:
        v.setBigUint64(0, value & U64, true);
        break;
      default:
        v.setBigUint64(0, value & U64, true);
        v.setBigUint64(8, (value >> 64n) & U64, true);
    }
    this.call(KvmIoctl.SET_ONE_REG, 'KVM_SET_ONE_REG', id);
  }

  /** Every register id KVM exposes for this vCPU (valid only after KVM_ARM_VCPU_INIT). */
  list(): readonly bigint[] {
    // Asked with room for none, KVM answers E2BIG and the count it needs.
    const probe = new DataView(new ArrayBuffer(RegListLayout.reg));
    const first = native.ioctlErrno(this.fd, KvmIoctl.GET_REG_LIST, probe);
    if (first !== -E2BIG) throw new KvmError('KVM_GET_REG_LIST', -first, errnoCode(first), 'sizing the list (is the vCPU initialised?)');
    const n = Number(probe.getBigUint64(RegListLayout.n, true));
    const list = new DataView(new ArrayBuffer(RegListLayout.reg + 8 * n));
    list.setBigUint64(RegListLayout.n, BigInt(n), true);
    const rc = native.ioctlErrno(this.fd, KvmIoctl.GET_REG_LIST, list);
    if (rc < 0) throw new KvmError('KVM_GET_REG_LIST', -rc, errnoCode(rc));
    return Array.from({ length: n }, (_, i) => list.getBigUint64(RegListLayout.reg + 8 * i, true));
  }

  close(): void {
    this.value.free();
  }

  private call(request: number, op: string, id: bigint): void {
    this.req.setBigUint64(OneRegLayout.id, id, true);
    const rc = native.ioctlErrno(this.fd, request, this.req);
    if (rc < 0) throw new KvmError(op, -rc, errnoCode(rc), `register id 0x${id.toString(16)}`);
  }
}

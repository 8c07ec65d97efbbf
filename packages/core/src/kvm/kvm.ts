import * as native from '@kvmts/native';
import { KvmIoctl } from '../abi/ioctls';
import { KvmCap } from '../abi/capabilities';
import { KVM_API_VERSION } from '../abi/kvm-constants';
import { KvmUnavailableError } from '../errors/errors';
import { kvmIoctl, retryingInterrupted, toKvmError } from './ioctl';

export const DEFAULT_KVM_PATH = '/dev/kvm';

/**
 * The system handle: /dev/kvm. Opens and checks the API version; answers typed capability
 * queries; creates VM file descriptors. Per-VM capability answers come from KvmVM.checkExtension
 * (the VM fd), because the kernel answers some capabilities per VM (e.g. X2APIC_API, arm64 IPA).
 */
export class Kvm {
  private closed = false;
  private constructor(
    readonly fd: number,
    readonly path: string,
    readonly apiVersion: number,
  ) {}

  /**
   * Open /dev/kvm (or `path`). Throws KvmUnavailableError with a message that says what to do
   * when the device is missing, not permitted, or speaks another API version.
   */
  static open(path: string = DEFAULT_KVM_PATH): Kvm {
    let fd: number;
    try {
      fd = native.open(path, native.constants.O_RDWR);
    } catch (e) {
      // A missing or broken addon is not an unavailable KVM: keep its build hint in front.
      if (e instanceof native.NativeLoadError) throw e;
      throw unavailable(path, e);
    }
    let version: number;
    try {
      version = native.ioctl(fd, KvmIoctl.GET_API_VERSION);
    } catch (e) {
      native.close(fd);
      throw new KvmUnavailableError('other', `${path} does not answer KVM_GET_API_VERSION (${(e as Error).message}): is it really a KVM device?`, { cause: e });
    }
    try {
      checkApiVersion(path, version);
    } catch (e) {
      native.close(fd);
      throw e;
    }
    return new Kvm(fd, path, version);
  }

  /** Can `path` be opened as KVM API 12 right now? (For choosing a fallback or skipping tests.) */
  static isAvailable(path: string = DEFAULT_KVM_PATH): boolean {
    try {
      Kvm.open(path).close();
      return true;
    } catch (e) {
      if (e instanceof KvmUnavailableError) return false;
      throw e;
    }
  }

  /** KVM_CHECK_EXTENSION on the system fd: 0 = absent, otherwise capability-specific. */
  checkExtension(cap: KvmCap): number {
    return kvmIoctl(this.fd, KvmIoctl.CHECK_EXTENSION, `KVM_CHECK_EXTENSION(${KvmCap[cap] ?? cap})`, cap);
  }

  hasCapability(cap: KvmCap): boolean {
    return this.checkExtension(cap) > 0;
  }

  /** Bytes to mmap on a vCPU fd: kvm_run plus the PIO and coalesced-MMIO pages. */
  vcpuMmapSize(): number {
    return kvmIoctl(this.fd, KvmIoctl.GET_VCPU_MMAP_SIZE, 'KVM_GET_VCPU_MMAP_SIZE');
  }

  /**
   * KVM_CREATE_VM; `type` is 0 on x86, the IPA size on arm64. Returns the VM fd. Issued again
   * when a signal interrupts it (EINTR: seen under `node --cpu-prof`, whose SIGPROF hits it).
   */
  createVmFd(type = 0): number {
    try {
      return retryingInterrupted(() => native.ioctl(this.fd, KvmIoctl.CREATE_VM, type));
    } catch (e) {
      throw toKvmError('KVM_CREATE_VM', e);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    native.close(this.fd);
  }
}

/** Throws KvmUnavailableError('api-version') unless `version` is the one API kvmts speaks. */
export function checkApiVersion(path: string, version: number): void {
  if (version !== KVM_API_VERSION) {
    throw new KvmUnavailableError('api-version', `${path} speaks KVM API version ${version}; kvmts needs version ${KVM_API_VERSION} (every Linux since 2.6.22 has it)`);
  }
}

function unavailable(path: string, e: unknown): KvmUnavailableError {
  const code = e instanceof native.SyscallError ? e.code : '';
  if (code === 'ENOENT' || code === 'ENXIO' || code === 'ENODEV') {
    return new KvmUnavailableError('missing', `${path} does not exist: this kernel offers no KVM. Load the module (modprobe kvm_intel or kvm_amd), enable virtualization in the firmware, or enable nested virtualization for this VM.`, { cause: e });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new KvmUnavailableError('permission', `${path} exists but this user may not open it (${code}). Add the user to the device's group (usually: sudo usermod -aG kvm $USER, then log in again) or run as root.`, { cause: e });
  }
  return new KvmUnavailableError('other', `${path} could not be opened: ${toKvmError('open', e).message}`, { cause: e });
}

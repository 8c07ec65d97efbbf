/**
 * Side effects a device decides while holding its SharedLock but performs after releasing it:
 * console bytes (a postMessage per line) and a power-off or reset request (stops the vCPUs). Another
 * vCPU spinning or sleeping on the lock should not wait for those. One instance per device
 * instance, so per thread; nothing here allocates on the exit path.
 */
import type { DeviceContext } from '../machine/device-plugin';

export class DeferredEffects {
  private consoleBytes = new Uint8Array(8);
  private consoleLength = 0;
  private powerOffPending = false;
  private powerOffStatus = 0;
  private resetPending = false;
  private flushPending = false;

  /** Queue a byte for `ctx.consoleWrite`. */
  consoleWrite(byte: number): void {
    // A device writes a few bytes per access, so this grows at most once or twice in a run.
    if (this.consoleLength === this.consoleBytes.length) {
      const grown = new Uint8Array(this.consoleBytes.length * 2);
      grown.set(this.consoleBytes);
      this.consoleBytes = grown;
    }
    this.consoleBytes[this.consoleLength++] = byte;
  }

  /** Queue `ctx.consoleFlush()`, after the queued bytes. */
  consoleFlush(): void {
    this.flushPending = true;
  }

  /** Queue `ctx.requestPowerOff(status)`; a later request in the same critical section wins. */
  requestPowerOff(status: number): void {
    this.powerOffPending = true;
    this.powerOffStatus = status;
  }

  /** Queue `ctx.requestReset()`. */
  requestReset(): void {
    this.resetPending = true;
  }

  /** Perform what was queued, in order: console bytes first, so a guest's last words precede its reset or power-off. Call after release. */
  deliver(ctx: Pick<DeviceContext, 'consoleWrite' | 'consoleFlush' | 'requestPowerOff' | 'requestReset'>): void {
    const length = this.consoleLength;
    this.consoleLength = 0;
    for (let i = 0; i < length; i++) ctx.consoleWrite(this.consoleBytes[i]);
    if (this.flushPending) {
      this.flushPending = false;
      ctx.consoleFlush?.();
    }
    if (this.resetPending) {
      this.resetPending = false;
      ctx.requestReset?.();
    }
    if (this.powerOffPending) {
      this.powerOffPending = false;
      ctx.requestPowerOff(this.powerOffStatus);
    }
  }
}

/**
 * Host → guest bytes without a device instance: the host holds only the UART's shared buffer
 * (`machine.deviceState`), from any thread.
 */
import { SharedReceiveRing } from '@kvmts/core';
import { pl011LayoutOf, type Pl011State } from './state';

/** Bindings per buffer, so repeated input does not rebuild views. */
const bound = new WeakMap<SharedArrayBuffer, { state: Pl011State; ring: SharedReceiveRing }>();

/**
 * Queue `data` for the guest to read from UARTDR. Returns how many bytes fit. With no device
 * instance here to drive the line, a newly pending RX interrupt is raised at the guest's next
 * UART access; `Pl011.pushInput` raises it at once.
 */
export function pl011PushInput(shared: SharedArrayBuffer, data: Uint8Array): number {
  let binding = bound.get(shared);
  if (binding === undefined) {
    const state = pl011LayoutOf(shared).bind(shared);
    binding = { state, ring: new SharedReceiveRing(state) };
    bound.set(shared, binding);
  }
  const { state, ring } = binding;
  state.lock.acquire();
  try {
    return ring.pushAll(data);
  } finally {
    state.lock.release();
  }
}

/**
 * Host → guest bytes without a device instance: the host holds only the UART's shared buffer
 * (`machine.deviceState`), from any thread.
 */
import { ReceiveRing } from './receive-ring';
import { uart8250LayoutOf, type UartState } from './state';

/** Bindings per buffer, so repeated input does not rebuild views. */
const bound = new WeakMap<SharedArrayBuffer, { state: UartState; ring: ReceiveRing }>();

function bindingOf(shared: SharedArrayBuffer): { state: UartState; ring: ReceiveRing } {
  let binding = bound.get(shared);
  if (binding === undefined) {
    const state = uart8250LayoutOf(shared).bind(shared);
    binding = { state, ring: new ReceiveRing(state) };
    bound.set(shared, binding);
  }
  return binding;
}

/**
 * Queue `data` for the guest to read from RBR. Returns how many bytes fit; the rest are dropped
 * and LSR.OE is set, as a real UART overruns. With no device instance here to drive the line, a
 * newly pending RX interrupt is raised at the guest's next UART access; `Uart8250.pushInput`
 * raises it at once.
 */
export function uartPushInput(shared: SharedArrayBuffer, data: Uint8Array): number {
  const { state, ring } = bindingOf(shared);
  state.lock.acquire();
  try {
    return ring.pushAll(data);
  } finally {
    state.lock.release();
  }
}

/**
 * Freeing a byte array's memory now. An ArrayBuffer's memory normally goes back only when the
 * garbage collector finds the buffer unreachable, and a thread that allocates little (kvmts'
 * main thread while its guest runs) may not collect for minutes: a 33 MB kernel image read to
 * be copied into guest RAM would stay resident all that time. Detaching the buffer hands its
 * memory back at once (V8 drops the backing store with the detach); its typed arrays then read
 * as empty (a DataView throws), so only the buffer's owner may do it, once nothing will read the bytes again.
 */
import { native } from './binding';
import { isMappingView } from './mapping';

/**
 * Detach the ArrayBuffer behind `view` and so free its memory now; true when it was freed.
 * False, leaving the bytes alone, when the view is only part of its buffer (a Node Buffer cut
 * from the shared pool, a subarray: freeing would take its neighbours' bytes too), when the
 * memory is a SharedArrayBuffer (other threads may hold it), when it is a view over a mapping
 * (guest RAM: the bytes are the mapping's, not the buffer's, so nothing would be freed and this
 * thread's view of them would go) or when the buffer cannot be detached. A view that is already
 * empty (released before) is false too.
 */
export function releaseBytes(view: ArrayBufferView): boolean {
  if (!ArrayBuffer.isView(view)) throw new TypeError(`releaseBytes expects a typed array or DataView, got ${view === null ? 'null' : typeof view}`);
  const buffer = view.buffer;
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return false;
  if (view.byteOffset !== 0 || view.byteLength !== buffer.byteLength) return false;
  if (isMappingView(buffer)) return false;
  return native.detach(buffer);
}

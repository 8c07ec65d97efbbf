import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/** A real full GC, even when Node was started without --expose-gc. */
export function forceGc(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

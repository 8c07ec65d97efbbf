/**
 * The architectural state of one hardware thread, owned by whichever CPU model runs it.
 * Arch packages define the concrete shape (X86ThreadContext, …). Checkpoints and CPU switching
 * go through it, so a simulated CPU written by anyone can take over from KVM and back.
 */
export interface ThreadContext {
  /** Architecture name, e.g. 'x86_64'. A context only moves between CPUs of the same arch. */
  readonly arch: string;
  /** Plain, structured-cloneable copy of the state (bigints allowed). */
  toJSON(): unknown;
}

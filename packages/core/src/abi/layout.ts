/**
 * The shape of a C struct layout table. Layout tables are plain data keyed by the C member
 * designator (`'exception.injected'` for nested members), so the ABI test can turn every
 * entry into an `offsetof`/`sizeof` check against the installed kernel headers without a
 * hand-written mapping, and codecs can be driven by the same table.
 */
export interface AbiField {
  /** Byte offset of the member from the start of the struct. */
  readonly offset: number;
  /** Size of the member in bytes; 0 for a flexible array member (it has no size). */
  readonly size: number;
  /** Element size for array members (required for flexible arrays). */
  readonly stride?: number;
}

export interface AbiStruct {
  /** C struct tag without the `struct` keyword, e.g. 'kvm_sregs'. */
  readonly struct: string;
  /** sizeof(struct …) in bytes. */
  readonly size: number;
  readonly fields: Readonly<Record<string, AbiField>>;
}

import type { AddressSpace } from '@kvmts/core';

/** x86 port I/O: 64 KiB of ports, reached by in/out (KVM_EXIT_IO). Devices place ranges under 'pio'. */
export const X86_PORT_IO_SPACE: AddressSpace = { name: 'pio', limit: 0x10000 };

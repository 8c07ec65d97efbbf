import type { Command } from 'commander';
import { DefaultKvmVM, Kvm, KvmCap } from '@kvmts/core';

/** Every capability kvmts knows, as answered by the system fd and by a VM fd. */
export function capabilityTable(path?: string): { name: string; system: number; vm: number }[] {
  const kvm = Kvm.open(path);
  const vm = new DefaultKvmVM(kvm);
  try {
    const names = Object.keys(KvmCap).filter((k) => Number.isNaN(Number(k))) as (keyof typeof KvmCap)[];
    return names.map((name) => ({ name, system: kvm.checkExtension(KvmCap[name]), vm: vm.checkExtension(KvmCap[name]) }));
  } finally {
    vm.close();
    kvm.close();
  }
}

export function registerCaps(program: Command): void {
  program
    .command('caps')
    .description('list the KVM capabilities of this host (system fd and VM fd)')
    .option('--kvm <path>', 'KVM device', '/dev/kvm')
    .option('--json', 'print JSON')
    .action((opts: { kvm: string; json?: boolean }) => {
      const rows = capabilityTable(opts.kvm);
      if (opts.json) {
        process.stdout.write(JSON.stringify(rows) + '\n');
        return;
      }
      const width = Math.max(...rows.map((r) => r.name.length));
      for (const r of rows) process.stdout.write(`${r.name.padEnd(width)}  ${String(r.system).padStart(8)}  ${r.vm !== r.system ? `(VM fd: ${r.vm})` : ''}\n`);
    });
}

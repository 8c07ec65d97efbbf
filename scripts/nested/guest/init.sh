#!/bin/busybox sh
# PID 1 of the emulated test host (both tiers): mount the basics, load the kernel modules the
# host runner listed, mount the repo (9p, read-only) and the per-run share, check /dev/kvm,
# run jest on the console and report through "@@KVMTS@@" marker lines that the host parses.
/bin/busybox --install -s /bin
export PATH=/usr/bin:/bin
mkdir -p /proc /sys /dev /tmp /run/kvmts /mnt/repo
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /tmp

say() { echo "@@KVMTS@@ $*"; }
up() { cut -d' ' -f1 /proc/uptime; }
# Power off; should that fail, the kernel's panic=-1 reboot ends QEMU (-no-reboot) when init exits.
finish() { say "exit $1"; sync; poweroff -f; exit "$1"; }

say "booted $(up)"
while read -r mod params; do
  [ -n "$mod" ] || continue
  # Not fatal: without kvm_amd (no SVM) the /dev/kvm check below says what is wrong.
  insmod "/lib/modules/$mod" $params || say "modfail $mod"

done < /etc/kvmts-modules

mount -t 9p -o trans=virtio,version=9p2000.L,ro kvmts /run/kvmts || { say "error mount of the run share"; finish 3; }
. /run/kvmts/run.env
# cache=loose: the share is read-only for the whole run, so page caching it is safe and fast.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose repo /mnt/repo \
  || { say "error mount of the repo share"; finish 3; }
# The jest cache at the host's path: jest's cache keys include it (the host filled it first).
mkdir -p "$KVMTS_REPO" "$KVMTS_JEST_CACHE"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 jestcache "$KVMTS_JEST_CACHE" \
  || { say "error mount of the jest cache share"; finish 3; }
if [ -n "$KVMTS_SCRATCH_PROJECT" ]; then
  # The packed packages installed outside the repo, at the host's path (packaging.kvm.test.ts).
  mkdir -p "$KVMTS_SCRATCH_PROJECT"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose scratch "$KVMTS_SCRATCH_PROJECT" \
    || { say "error mount of the scratch project share"; finish 3; }
fi
if [ -n "$KVMTS_GUEST_QEMU" ]; then
  # A QEMU for this host's own KVM (KVMTS_NESTED_GUEST_QEMU=1 on the host: a benchmark's baseline).
  mkdir -p /opt/kvmts-qemu
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose qemu /opt/kvmts-qemu \
    || { say "error mount of the QEMU share"; finish 3; }
  export KVMTS_GUEST_QEMU KVMTS_GUEST_QEMU_LIBS
fi
if [ -d /run/kvmts/overlay ]; then
  # Guest-arch files (native addon, per-platform bindings) laid over the host's repo, read-only.
  mount -t overlay -o "lowerdir=/run/kvmts/overlay:/mnt/repo" overlay "$KVMTS_REPO" \
    || { say "error overlay mount"; finish 3; }
else
  mount --bind /mnt/repo "$KVMTS_REPO" || { say "error bind mount"; finish 3; }
fi

[ -c /dev/kvm ] || { say "nokvm"; finish 4; }
[ -z "$KVMTS_NODE_OPTIONS" ] || export NODE_OPTIONS="$KVMTS_NODE_OPTIONS"

say "ready $(up) $(uname -m) node $(node -v 2>&1)"

cd "$KVMTS_REPO" || finish 3
set -f # the jest arguments are patterns: no globbing here
export HOME=/tmp CI=true FORCE_COLOR=0 KVMTS_SCRATCH_PROJECT KVMTS_TIER KVMTS_L0_QEMU_VERSION KVMTS_L1_PROFILE KVMTS_GUEST_ASM=/run/kvmts/asm KVMTS_GUEST_KERNEL=/run/kvmts/kernel/vmlinuz KVMTS_NESTED=1
# This host has a real KVM (checked above): a KVM suite that cannot open it fails, never skips.
export KVMTS_REQUIRE_KVM=1
# Which tier runs the *.kvm.test.ts suites (jest.config.js); unset means this one too.
[ -z "$KVMTS_KVM_SUITES" ] || export KVMTS_KVM_SUITES
# Suites another emulated host of the same npm test runs instead (jest.config.js).
[ -z "$KVMTS_SKIP_SUITES" ] || export KVMTS_SKIP_SUITES
# This host's share of the tier's test files (the plan in /run/kvmts/shards.json).
shard=""
[ -z "$KVMTS_SHARD" ] || shard="--shard=$KVMTS_SHARD --testSequencer=/run/kvmts/shard-sequencer.js"
if [ -n "$KVMTS_GUEST_CMD" ]; then
  # Debugging aid (KVMTS_NESTED_CMD on the host): run this instead of jest.
  set +f; sh -c "$KVMTS_GUEST_CMD" </dev/null 2>&1; finish $?
fi
# shellcheck disable=SC2086 # KVMTS_JEST_ARGS and shard are word lists built by the host runner
# The patterns go first (--reporters takes every word after it). Piped through cat so jest
# sees no terminal: no colours or cursor codes in the host's log.
# No other option here may change jest's project config (e.g. --testTimeout: jest.config.js sets
# it per tier), or the transforms the host cached for this config would not be found.
{ node node_modules/jest/bin/jest.js $KVMTS_JEST_ARGS $shard --ci -i --json --outputFile=/tmp/jest.json \
    --cacheDirectory="$KVMTS_JEST_CACHE" --reporters=default --reporters=/run/kvmts/progress-reporter.js \
    </dev/null 2>&1; echo $? > /tmp/jest.rc; } | cat
rc=$(cat /tmp/jest.rc)
say "jest-done $(up)"
node -e '
  const r = require("/tmp/jest.json");
  console.log("@@KVMTS@@ counts " + [r.numPassedTests, r.numFailedTests, r.numRuntimeErrorTestSuites,
    r.numTotalTests, r.numPendingTests + r.numTodoTests].join(" "));
' 2>/dev/null || say "error no jest report"
finish $rc

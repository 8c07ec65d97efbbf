'use strict';
/**
 * Where the resident memory is, by mapping: /proc/self/smaps summed per group — a file's base
 * name (`node`, `libc.so.6`, `kvmts_native.node`), the kernel's names (`[heap]` — the main
 * malloc arena's brk —, `[stack]`, `anon_inode:kvm-vcpu:0`, …) and `[anon]` for anonymous
 * mappings without a name (V8's heap pages, the other malloc arenas, thread stacks). The soak
 * compares two of these to say which kind of memory grew.
 */
const fs = require('node:fs');
const path = require('node:path');

/** A mapping's header line: address range, perms, offset, device, inode, then the optional name. */
const HEADER = /^[0-9a-f]+-[0-9a-f]+\s+\S+\s+\S+\s+\S+\s+\d+\s*(.*)$/;

function groupOf(name) {
  if (name === '') return '[anon]';
  if (name.startsWith('/')) return path.basename(name.replace(/ \(deleted\)$/, ''));
  return name;
}

/** smaps text → group → resident KiB (groups with nothing resident are left out). */
function rssByMapping(text) {
  const out = {};
  let group;
  for (const line of text.split('\n')) {
    const header = HEADER.exec(line);
    if (header) {
      group = groupOf(header[1].trim());
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss && group !== undefined && Number(rss[1]) > 0) out[group] = (out[group] ?? 0) + Number(rss[1]);
  }
  return out;
}

/** This process's resident KiB by mapping group now. */
function readRssByMapping() {
  return rssByMapping(fs.readFileSync('/proc/self/smaps', 'utf8'));
}

/** after − before per group, the groups that changed only, largest growth first. */
function rssGrowth(before, after) {
  const groups = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changed = [...groups].map((g) => [g, (after[g] ?? 0) - (before[g] ?? 0)]).filter(([, d]) => d !== 0);
  changed.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return Object.fromEntries(changed);
}

module.exports = { rssByMapping, readRssByMapping, rssGrowth };

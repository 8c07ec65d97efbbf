'use strict';
/**
 * Output of a comparison benchmark. `--json`: one object per line per scenario, the shape every
 * kvmts benchmark shares: {"scenario","kvmts_ns_per_op","baseline_ns_per_op","ratio"}.
 * Otherwise a human table with exits/s, ns/op, the ratio and PASS/FAIL against the target.
 */

const round = (x, digits) => Number(x.toFixed(digits));

/** A result's `extra` fields (e.g. the boot benchmark's per-run figures) follow the common four. */
function jsonLines(results) {
  return results.map((r) =>
    JSON.stringify({ scenario: r.scenario, kvmts_ns_per_op: round(r.kvmts_ns_per_op, 1), baseline_ns_per_op: round(r.baseline_ns_per_op, 1), ratio: round(r.ratio, 4), ...(r.extra ?? {}) }),
  );
}

function perSecond(ns) {
  return Math.round(1e9 / ns).toLocaleString('en-US');
}

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
}

function humanLines(results, header) {
  const rows = [['scenario', 'kvmts exits/s', 'C exits/s', 'kvmts ns/op', 'C ns/op', 'ratio', 'target', '', 'bare Node ns/op', 'user ns/op kvmts', 'C']];
  for (const r of results) {
    rows.push([
      r.scenario,
      perSecond(r.kvmts_ns_per_op),
      perSecond(r.baseline_ns_per_op),
      r.kvmts_ns_per_op.toFixed(1),
      r.baseline_ns_per_op.toFixed(1),
      r.ratio.toFixed(3),
      `≤ ${r.target.toFixed(2)}`,
      r.ratio <= r.target ? 'PASS' : 'FAIL',
      r.node_bare_ns_per_op === undefined ? '' : r.node_bare_ns_per_op.toFixed(1),
      r.kvmts_user_ns_per_op === undefined ? '' : r.kvmts_user_ns_per_op.toFixed(0),
      r.baseline_user_ns_per_op === undefined ? '' : r.baseline_user_ns_per_op.toFixed(0),
    ]);
  }
  return [header, ...table(rows)];
}

module.exports = { jsonLines, humanLines };

'use strict';
/**
 * A V8 .cpuprofile (node --cpu-prof) summed by function: self time (where the samples were)
 * and inclusive time (self plus everything it called, each sample counted once per function
 * even when it recurses). Pure; scripts/bench/boot-startup.js prints it for the profiles a
 * nested run copied out.
 */

/** A function's key: name, file's base name and line (bundles keep names; 1-based line). */
function keyOf(callFrame) {
  const file = callFrame.url ? callFrame.url.replace(/^.*[/\\]/, '') : '';
  const name = callFrame.functionName || '(anonymous)';
  return file ? `${name} ${file}:${callFrame.lineNumber + 1}` : name;
}

/**
 * @param {{ nodes: { id: number, callFrame: object, children?: number[] }[], samples: number[], timeDeltas: number[] }} profile
 * @param {{ until?: number }} [options] until: only samples up to this many ms after the profile's start
 * @returns {{ totalMs: number, self: [string, number][], inclusive: [string, number][] }} ms, largest first
 */
function summarizeCpuProfile(profile, options = {}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map();
  const inclusiveUs = new Map();
  let t = 0;
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    // timeDeltas[i] is the time before sample i; the sample stands for the time until the next.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    t += profile.timeDeltas[i];
    if (options.until !== undefined && t / 1000 > options.until) return;
    totalUs += dt;
    const node = byId.get(id);
    const k = keyOf(node.callFrame);
    selfUs.set(k, (selfUs.get(k) ?? 0) + dt);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const key = keyOf(byId.get(at).callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusiveUs.set(key, (inclusiveUs.get(key) ?? 0) + dt);
    }
  });
  const sorted = (m) => [...m].map(([k, us]) => [k, Math.round(us / 100) / 10]).sort((a, b) => b[1] - a[1]);
  return { totalMs: Math.round(totalUs / 100) / 10, self: sorted(selfUs), inclusive: sorted(inclusiveUs) };
}

module.exports = { summarizeCpuProfile, keyOf };

'use strict';
/**
 * Kernel-module load order from the modules themselves: each .ko carries "depends=a,b" in its
 * .modinfo section, so the order is derived (depth first) instead of written by hand per kernel.
 */
const fs = require('fs');
const path = require('path');
const { NestedError } = require('./util');

const norm = (n) => n.replace(/-/g, '_');

function indexModules(modulesRoot) {
  const index = new Map();
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ko')) index.set(norm(e.name.slice(0, -3)), p);
    }
  };
  walk(modulesRoot);
  return index;
}

function dependsOf(file) {
  const m = /\0depends=([^\0]*)\0/.exec(fs.readFileSync(file).toString('latin1'));
  return m && m[1] ? m[1].split(',').map(norm) : [];
}

/**
 * @param modulesRoot lib/modules/<kver>/kernel of an unpacked linux-image package
 * @param wanted [[name, ...insmodParams]] in the order the tier asks for them
 * @returns [{name, file, params}] dependencies first, each module once
 */
function loadOrder(modulesRoot, wanted) {
  const index = indexModules(modulesRoot);
  const params = new Map(wanted.map(([n, ...p]) => [norm(n), p]));
  const out = [];
  const seen = new Set();
  const visit = (name, chain) => {
    if (seen.has(name)) return;
    const file = index.get(name);
    if (!file) throw new NestedError('kernel modules', `${name} not found (wanted by ${chain.join(' → ') || 'the tier'})`);
    seen.add(name);
    for (const d of dependsOf(file)) visit(d, [...chain, name]);
    out.push({ name, file, params: params.get(name) ?? [] });
  };
  for (const [n] of wanted) visit(norm(n), []);
  return out;
}

module.exports = { loadOrder };

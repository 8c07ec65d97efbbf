'use strict';
/**
 * `fdt`: the FDT builder (arm64 boot/fdt.ts) with random trees — node and property names from
 * valid to hostile (NUL, '/', non-ASCII, empty, huge), values from every fdtProp builder with
 * edge arguments, raw values, reservations and boot CPU ids. The output must parse back with a
 * strict reader (lib/fdt-reader.js) into exactly the tree, reservations and boot CPU given:
 * names, property order, value bytes, and the cells/strings the builders were asked to encode.
 */
const { buildFdt, fdtProp } = require('@kvmts/arch-arm64');
const v = require('../lib/values');
const { invariant } = require('../lib/invariant');
const { readFdt } = require('../lib/fdt-reader');

const NODE_NAMES = ['cpus', 'cpu@0', 'memory@40000000', 'intc@8000000', 'pl011@9000000', 'timer', 'chosen', 'psci', 'a', 'x,y-z_1.2+3'];
const PROP_NAMES = ['compatible', 'reg', '#address-cells', '#size-cells', 'interrupts', 'linux,initrd-start', 'bootargs', 'phandle', 'status', 'ranges', 'a?b'];

function name(rng, pool) {
  return rng.chance(0.85) ? rng.pick(pool) : v.string(rng, 40);
}

/** A property and the value the builder should have produced for it (null: not known ahead). */
function property(rng) {
  const n = name(rng, PROP_NAMES);
  const u32 = () => (rng.chance(0.8) ? rng.u32() : v.number(rng));
  const u64 = () => (rng.chance(0.4) ? BigInt(rng.u32()) << 32n | BigInt(rng.u32()) : rng.chance(0.7) ? rng.int(0, 2 ** 53 - 1) : rng.chance(0.5) ? v.number(rng) : rng.pick([-1n, 2n ** 64n, 2n ** 64n - 1n]));
  switch (rng.below(7)) {
    case 0:
      return { kind: 'empty', name: n };
    case 1:
      return { kind: 'u32', name: n, args: Array.from({ length: rng.int(0, 4) }, u32) };
    case 2:
      return { kind: 'u64', name: n, args: Array.from({ length: rng.int(0, 3) }, u64) };
    case 3:
      return { kind: 'string', name: n, args: [v.string(rng, 30)] };
    case 4:
      return { kind: 'strings', name: n, args: Array.from({ length: rng.int(0, 4) }, () => v.string(rng, 12)) };
    case 5:
      return { kind: 'raw', name: n, value: rng.bytes(rng.int(0, 40)) };
    default:
      return { kind: 'raw', name: n, value: rng.chance(0.7) ? rng.bytes(rng.int(0, 9)) : v.junk(rng) };
  }
}

function node(rng, depth, nodeName) {
  return {
    name: nodeName,
    properties: Array.from({ length: rng.int(0, 4) }, () => property(rng)),
    children: depth > 0 ? Array.from({ length: rng.int(0, 3) }, () => node(rng, depth - 1, name(rng, NODE_NAMES))) : [],
  };
}

function generate(rng) {
  const options = {};
  if (rng.chance(0.3)) options.bootCpuId = rng.chance(0.8) ? rng.int(0, 7) : v.number(rng);
  if (rng.chance(0.3)) options.reservations = Array.from({ length: rng.int(0, 3) }, () => ({ address: rng.chance(0.8) ? rng.int(0, 2 ** 40) : v.number(rng), size: rng.chance(0.8) ? rng.int(1, 2 ** 30) : v.number(rng) }));
  return { tree: node(rng, rng.int(0, 3), rng.chance(0.95) ? '' : name(rng, NODE_NAMES)), options };
}

/** Build the FdtNode the spec describes, through the public builders. */
function toFdtNode(spec) {
  return {
    name: spec.name,
    properties: spec.properties.map((p) => (p.kind === 'raw' ? { name: p.name, value: p.value } : p.kind === 'empty' ? fdtProp.empty(p.name) : fdtProp[p.kind](p.name, ...p.args))),
    children: spec.children.map(toFdtNode),
  };
}

/** What the value bytes must decode to, by builder. */
function checkValue(p, value, where) {
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  switch (p.kind) {
    case 'empty':
      invariant(value.length === 0, `an empty property with ${value.length} bytes [at ${where}]`);
      break;
    case 'u32':
      invariant(value.length === 4 * p.args.length && p.args.every((x, i) => dv.getUint32(4 * i) === x), () => `cells ${JSON.stringify([...Array(value.length >> 2)].map((_, i) => dv.getUint32(4 * i)))} for u32(${p.args.join(', ')}) [at ${where}]`);
      break;
    case 'u64':
      invariant(value.length === 8 * p.args.length && p.args.every((x, i) => dv.getBigUint64(8 * i) === BigInt(x)), () => `value ${Buffer.from(value).toString('hex')} for u64(${p.args.join(', ')}) [at ${where}]`);
      break;
    case 'string':
    case 'strings': {
      const expected = Buffer.from(p.args.map((s) => `${s}\0`).join(''), 'utf8');
      invariant(Buffer.from(value).equals(expected), () => `string bytes differ [at ${where}]`);
      // The value must read back as the strings given: one NUL-terminated string each.
      const parts = Buffer.from(value).toString('utf8').split('\0').slice(0, -1);
      invariant(parts.length === p.args.length && parts.every((s, i) => s === p.args[i]), () => `reads back as ${parts.length} strings, ${p.args.length} given [at ${where}]`);
      break;
    }
    default:
      invariant(Buffer.from(value).equals(Buffer.from(p.value)), () => `raw value bytes differ [at ${where}]`);
  }
}

function compare(spec, got, where) {
  invariant(got.name === spec.name, () => `node name ${JSON.stringify(got.name)}, built ${JSON.stringify(spec.name)} [at ${where}]`);
  invariant(got.properties.length === spec.properties.length, () => `${got.properties.length} properties, built ${spec.properties.length} [at ${where}]`);
  spec.properties.forEach((p, i) => {
    const g = got.properties[i];
    invariant(g.name === p.name, () => `property ${JSON.stringify(g.name)}, built ${JSON.stringify(p.name)} [at ${where}]`);
    checkValue(p, g.value, `${where}/${p.name}`);
  });
  invariant(got.children.length === spec.children.length, () => `${got.children.length} children, built ${spec.children.length} [at ${where}]`);
  spec.children.forEach((c, i) => compare(c, got.children[i], `${where}/${c.name}`));
}

function execute({ tree, options }) {
  const dtb = buildFdt(toFdtNode(tree), options);
  invariant(dtb instanceof Uint8Array, 'buildFdt returned no bytes');
  const parsed = readFdt(dtb); // throws FdtFormatError (untyped: a finding) when malformed
  compare(tree, parsed.root, '');
  invariant(parsed.header.bootCpuidPhys === (options.bootCpuId ?? 0), () => `boot CPU ${parsed.header.bootCpuidPhys}, built ${options.bootCpuId}`);
  const rsv = options.reservations ?? [];
  invariant(parsed.reservations.length === rsv.length && rsv.every((r, i) => parsed.reservations[i].address === BigInt(r.address) && parsed.reservations[i].size === BigInt(r.size)), 'reservations do not read back');
}

module.exports = { description: 'FDT builder: random trees, names and values must parse back exactly (strict reader)', generate, execute };

'use strict';
/**
 * A strict reader of flattened devicetrees (Devicetree Specification v0.4 §5), for checking the
 * FDT builder's output: it parses what a kernel's libfdt would, and throws on anything malformed
 * (bad magic, blocks out of bounds or misaligned, a token stream that does not nest, an
 * unterminated name, a string offset outside the strings block, trailing structure bytes).
 */
const FDT_MAGIC = 0xd00dfeed;
const Token = { BEGIN_NODE: 1, END_NODE: 2, PROP: 3, NOP: 4, END: 9 };

class FdtFormatError extends Error {
  constructor(message) {
    super(`FDT: ${message}`);
    this.name = 'FdtFormatError';
  }
}

const fail = (message) => {
  throw new FdtFormatError(message);
};

/** NUL-terminated string at `at` within [at, end); returns [text, offset after the NUL]. */
function cString(bytes, at, end, what) {
  const nul = bytes.indexOf(0, at);
  if (nul < 0 || nul >= end) fail(`${what} at ${at} is not NUL-terminated inside its block`);
  return [Buffer.from(bytes.subarray(at, nul)).toString('utf8'), nul + 1];
}

/** @returns {{ header: object, reservations: { address: bigint, size: bigint }[], root: { name: string, properties: { name: string, value: Uint8Array }[], children: object[] } }} */
function readFdt(bytes) {
  if (bytes.length < 40) fail(`${bytes.length} bytes is shorter than the header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = {
    magic: v.getUint32(0), totalsize: v.getUint32(4), offDtStruct: v.getUint32(8), offDtStrings: v.getUint32(12), offMemRsvmap: v.getUint32(16),
    version: v.getUint32(20), lastCompVersion: v.getUint32(24), bootCpuidPhys: v.getUint32(28), sizeDtStrings: v.getUint32(32), sizeDtStruct: v.getUint32(36),
  };
  if (h.magic !== FDT_MAGIC) fail(`magic 0x${h.magic.toString(16)}`);
  if (h.totalsize !== bytes.length) fail(`totalsize ${h.totalsize} for ${bytes.length} bytes`);
  if (h.version < 16 || h.lastCompVersion > 16) fail(`version ${h.version}, last compatible ${h.lastCompVersion}`);
  if (h.offMemRsvmap % 8 !== 0 || h.offDtStruct % 4 !== 0) fail('misaligned block');
  if (h.offDtStruct + h.sizeDtStruct > h.totalsize || h.offDtStrings + h.sizeDtStrings > h.totalsize) fail('a block past totalsize');
  const reservations = [];
  for (let at = h.offMemRsvmap; ; at += 16) {
    if (at + 16 > h.offDtStruct) fail('reservation map not terminated before the structure block');
    const address = v.getBigUint64(at);
    const size = v.getBigUint64(at + 8);
    if (address === 0n && size === 0n) break;
    reservations.push({ address, size });
  }
  const strEnd = h.offDtStrings + h.sizeDtStrings;
  const structEnd = h.offDtStruct + h.sizeDtStruct;
  let at = h.offDtStruct;
  const token = () => {
    if (at + 4 > structEnd) fail('structure block ends mid-token');
    const t = v.getUint32(at);
    at += 4;
    return t;
  };
  const align4 = (x) => (x + 3) & ~3;
  const readNode = () => {
    const [name, next] = cString(bytes, at, structEnd, 'node name');
    at = align4(next);
    const node = { name, properties: [], children: [] };
    for (;;) {
      const t = token();
      if (t === Token.PROP) {
        if (node.children.length > 0) fail(`node '${name}': a property after a child node`);
        const len = token();
        const nameOff = token();
        if (h.offDtStrings + nameOff >= strEnd) fail(`property name offset ${nameOff} outside the strings block`);
        const [propName] = cString(bytes, h.offDtStrings + nameOff, strEnd, 'property name');
        if (at + len > structEnd) fail(`property ${propName} value runs past the structure block`);
        node.properties.push({ name: propName, value: bytes.slice(at, at + len) });
        at = align4(at + len);
      } else if (t === Token.BEGIN_NODE) {
        node.children.push(readNode());
      } else if (t === Token.END_NODE) {
        return node;
      } else if (t !== Token.NOP) {
        fail(`unexpected token ${t} at ${at - 4}`);
      }
    }
  };
  if (token() !== Token.BEGIN_NODE) fail('the structure block does not start with the root node');
  const root = readNode();
  if (token() !== Token.END) fail('no FDT_END after the root node');
  if (at !== structEnd) fail(`${structEnd - at} bytes after FDT_END`);
  return { header: h, reservations, root };
}

module.exports = { readFdt, FdtFormatError };

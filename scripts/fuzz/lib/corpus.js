'use strict';
/**
 * The regression corpus: scripts/fuzz/corpus/<target>/<id>.json, one failing input each, kept
 * after the fix so it stays fixed (packages/cli/test/fuzz.test.ts replays every file). The id is
 * the finding's kind and a hash of its input, so saving the same finding twice writes one file.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const CORPUS_DIR = path.join(__dirname, '..', 'corpus');

/** Write `finding` (from runTarget) as a corpus file; returns its path relative to the repo. */
function saveFinding(finding) {
  const input = JSON.stringify(finding.input);
  const id = `${finding.kind}-${crypto.createHash('sha256').update(input).digest('hex').slice(0, 12)}`;
  const dir = path.join(CORPUS_DIR, finding.target);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${id}.json`);
  const entry = {
    target: finding.target,
    found: { kind: finding.kind, seed: finding.seed, case: finding.index, error: `${finding.error.name}: ${finding.error.message.slice(0, 300)}` },
    input: finding.input,
  };
  fs.writeFileSync(file, `${JSON.stringify(entry, null, 1)}\n`);
  return path.relative(path.join(__dirname, '..', '..', '..'), file);
}

/** Corpus entries by target (only `target`'s when given), each { file, found, input }. */
function readCorpus(target) {
  const out = new Map();
  if (!fs.existsSync(CORPUS_DIR)) return out;
  for (const name of fs.readdirSync(CORPUS_DIR).sort()) {
    if (target !== undefined && name !== target) continue;
    const dir = path.join(CORPUS_DIR, name);
    if (!fs.statSync(dir).isDirectory()) continue;
    const entries = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => ({ file: path.join(dir, f), ...JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) }));
    if (entries.length > 0) out.set(name, entries);
  }
  return out;
}

module.exports = { CORPUS_DIR, saveFinding, readCorpus };

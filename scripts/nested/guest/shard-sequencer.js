'use strict';
/**
 * Jest test sequencer used inside the emulated hosts when a tier is split over several of them
 * (`--shard=i/n`): this host runs the files the host runner planned for shard i (shards.json
 * next to this file in the run share, /run/kvmts; written by run.js with lib/shards.js). Jest's own sharding splits by a hash of the path;
 * the plan balances by measured durations instead.
 *
 * No file may fall between the shards: if jest here finds a test file that no shard was given,
 * or this shard was given a file jest does not find, the run fails instead of silently running
 * less than the whole tier.
 */
const path = require('path');

// Resolved from the repo (the cwd), not from /run/kvmts where this file lives.
const Sequencer = require(require.resolve('@jest/test-sequencer', { paths: [process.cwd()] })).default;
const PLAN = path.join(__dirname, 'shards.json');

class ShardSequencer extends Sequencer {
  shard(tests, { shardIndex, shardCount }) {
    const plan = require(PLAN);
    if (plan.length !== shardCount) throw new Error(`${PLAN} has ${plan.length} shards, jest was asked for ${shardCount}`);
    const planned = new Set(plan.flat());
    const found = new Set(tests.map((t) => t.path));
    const unplanned = [...found].filter((p) => !planned.has(p));
    const missing = plan[shardIndex - 1].filter((p) => !found.has(p));
    if (unplanned.length || missing.length) {
      const rel = (ps) => ps.map((p) => path.relative(process.cwd(), p)).join(', ');
      throw new Error(`the shard plan does not match the tests jest found here: ${[
        unplanned.length ? `in no shard: ${rel(unplanned)}` : '',
        missing.length ? `not found: ${rel(missing)}` : ''].filter(Boolean).join('; ')}`);
    }
    const mine = new Set(plan[shardIndex - 1]);
    return tests.filter((t) => mine.has(t.path));
  }
}

module.exports = ShardSequencer;

'use strict';
/**
 * The thread that runs a target's cases. The main thread watches `progress` (the case running
 * now and a done flag) and terminates this thread when one case runs past the time limit: a
 * synchronous hang cannot be interrupted from inside.
 */
const { parentPort, workerData } = require('node:worker_threads');
const { Prng, caseSeed } = require('./prng');
const { classify } = require('./classify');
const { encode, decode } = require('./codec');
const { loadTarget } = require('./targets');

const { targetName, targetModule, seed, start, end, inputs, progress: progressBuffer } = workerData;
const progress = new Int32Array(progressBuffer);
const target = targetModule ? require(targetModule) : loadTarget(targetName);

function runOne(index, input) {
  Atomics.store(progress, 0, index);
  Atomics.add(progress, 1, 1);
  let thrown;
  try {
    target.execute(input);
  } catch (e) {
    thrown = e ?? new Error(`thrown ${String(e)}`);
  }
  const finding = classify(thrown);
  if (finding) parentPort.postMessage({ type: 'finding', index, finding, input: encode(input) });
}

if (inputs) {
  // Replay: the given inputs, in order (index = position).
  for (let i = start; i < inputs.length; i++) runOne(i, decode(inputs[i]));
} else {
  for (let i = start; i < end; i++) runOne(i, target.generate(new Prng(caseSeed(seed, i))));
}
parentPort.postMessage({ type: 'done' });

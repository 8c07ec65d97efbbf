'use strict';
/** A benchmark could not produce a valid measurement (wrong exit count, baseline failed, …). */
const { KvmtsError } = require('@kvmts/core');

class BenchError extends KvmtsError {}

module.exports = { BenchError };

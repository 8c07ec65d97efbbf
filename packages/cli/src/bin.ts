#!/usr/bin/env node
/**
 * The kvmts command: the bundled CLI (one file for the CLI and one for its vCPU worker, so Node
 * reads and compiles two files instead of ~250) when it is built and current, else the modular
 * program. KVMTS_CLI_BUNDLE=0 forces the modular one, =1 the bundle (./bundle/stamp.ts).
 * Only the freshness check loads before that choice.
 */
import * as path from 'node:path';
import { chooseCliBuild } from './bundle/stamp';

/* eslint-disable @typescript-eslint/no-require-imports */
const build = chooseCliBuild(path.resolve(__dirname, '..'), process.env.KVMTS_CLI_BUNDLE);
if (build.kind === 'error') {
  process.stderr.write(`kvmts: ${build.message}\n`);
  process.exitCode = 1;
} else if (build.kind === 'bundle') {
  require(build.file);
} else {
  require('reflect-metadata');
  void (require('./program') as typeof import('./program')).main(process.argv);
}

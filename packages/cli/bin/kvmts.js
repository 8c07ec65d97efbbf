#!/usr/bin/env node
'use strict';
// The `kvmts` command. A committed shim rather than dist/bin.js itself: npm links a package's
// bins when it installs, which in the repository is before `npm run build` has written dist/,
// and a bin whose file does not exist then is not linked at all.
let entry;
try {
  entry = require.resolve('../dist/bin.js');
} catch {
  process.stderr.write('kvmts: the CLI is not built yet: run `npm run build` in the repository first\n');
  process.exit(1);
}
require(entry);

#!/usr/bin/env node
'use strict';
const { join } = require('node:path');
const main = join(__dirname, '..', 'dist', 'src', 'main.js');
try {
  require.resolve(main);
} catch {
  process.stderr.write(
    'vmfarm: not built yet; run `npm run build` (or `npm run farm`) in the repository first\n',
  );
  process.exit(2);
}
require(main)
  .main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`vmfarm: ${err && err.message ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );

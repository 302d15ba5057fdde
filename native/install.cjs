#!/usr/bin/env node
// `npm install prime-ts` (the package's install script): builds the libtorch addon with node-gyp
// against the libtorch that native/libtorch.cjs finds ($LIBTORCH, else Debian's libtorch-dev).
//   - addon already built (a checkout after `make build`) → nothing to do
//   - PRIME_TS_SKIP_BUILD=1 → skipped, with a note
//   - no libtorch → a message saying how to point the build at one; the install succeeds, and
//     the package imports (native functions then throw NativeAddonError saying the same)
//   - libtorch found but the build fails → the install fails with node-gyp's output
// Rebuild later with `LIBTORCH=/path/to/libtorch npm rebuild prime-ts`.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const here = __dirname;
const addon = path.join(here, 'build/Release/prime_native.node');
const say = (s) => process.stderr.write(`prime-ts: ${s}\n`);
const HOW = 'Point the build at a libtorch and rebuild:\n' +
  '    LIBTORCH=/path/to/libtorch npm rebuild prime-ts      (an unpacked official libtorch >= 1.13, CPU or CUDA)\n' +
  '  or install Debian/Ubuntu\'s:  apt-get install libtorch-dev libgloo-dev && npm rebuild prime-ts\n' +
  '  (npm >= 11 runs a dependency\'s install script only once approved: npm install-scripts approve prime-ts)\n' +
  '  Until then prime-ts imports, prime-ts/verify, configs and `prime plot` work; tensor functions throw.';

if (process.env.PRIME_TS_SKIP_BUILD === '1') {
  say('PRIME_TS_SKIP_BUILD=1: native addon not built.\n  ' + HOW);
  process.exit(0);
}
// `npm rebuild` sets npm_command=rebuild: build again even when an addon exists
if (fs.existsSync(addon) && process.env.npm_command !== 'rebuild' && process.env.PRIME_TS_FORCE_BUILD !== '1') {
  say(`native addon already built (${addon})`);
  process.exit(0);
}

const probe = spawnSync(process.execPath, [path.join(here, 'libtorch.cjs'), 'where'], { encoding: 'utf8' });
if (probe.status !== 0) {
  say('libtorch not found, so the native addon was not built.\n' + (probe.stderr || '').trim() + '\n  ' + HOW);
  process.exit(0);
}
say(`building the native addon against ${probe.stdout.trim()} (a few minutes)…`);

// node-gyp: the project's own (a checkout), else the one npm ships with (npm_config_node_gyp), else PATH
function nodeGyp() {
  const local = path.join(here, '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (fs.existsSync(local)) return [process.execPath, local];
  const npmGyp = process.env.npm_config_node_gyp;
  if (npmGyp && fs.existsSync(npmGyp)) return npmGyp.endsWith('.js') ? [process.execPath, npmGyp] : [npmGyp];
  return ['node-gyp'];
}
// build against the running Node's own headers when it has them (no download)
const nodeDir = path.resolve(process.execPath, '../..');
const nodeDirArg = fs.existsSync(path.join(nodeDir, 'include/node/node_api.h')) ? [`--nodedir=${nodeDir}`] : [];
const [cmd, ...pre] = nodeGyp();
const jobs = String(Math.max(1, Math.min(4, require('os').availableParallelism?.() ?? 2)));
const r = spawnSync(cmd, [...pre, 'rebuild', '-j', jobs, ...nodeDirArg], { cwd: here, stdio: 'inherit' });
if (r.error || r.status !== 0) {
  say(`building the native addon failed (${r.error ? r.error.message : `node-gyp exit ${r.status}`}).\n  ` +
    'Set PRIME_TS_SKIP_BUILD=1 to install without it.\n  ' + HOW);
  process.exit(1);
}
say(`native addon built: ${addon}`);

// The installable package: `npm pack` contents, and the packed tarball installed into an empty
// project (its install script runs and, with no libtorch, says how to point it at one), imported
// by every subpath, type-checked, and its `prime` bin run. Needs dist/ built (make build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string; version: string; files: string[]; bin: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
};

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const p = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 180_000, env: { ...process.env, ...env } });
  if (p.error) throw p.error;
  return { code: p.status, out: p.stdout, err: p.stderr };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prime-pack-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
let tarball = '';
let files: string[] = [];

test('npm pack: only the allowlist (built sources, their types, native sources); no tests, benches or scratch files', () => {
  const r = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT);
  assert.equal(r.code, 0, r.err);
  const info = (JSON.parse(r.out) as { filename: string; files: { path: string }[] }[])[0]!;
  tarball = path.join(tmp, info.filename);
  files = info.files.map((f) => f.path).sort();
  const allowed = [/^dist\/src\/.+\.(js|d\.ts)$/, /^native\/(binding\.gyp|libtorch\.cjs|install\.cjs)$/, /^native\/src\/[^/]+\.(cc|h)$/, /^(package\.json|README\.md|ARCHITECTURE\.md|LICENSE)$/];
  const stray = files.filter((f) => !allowed.some((re) => re.test(f)));
  assert.deepEqual(stray, [], 'files outside the allowlist');
  for (const bad of [/(^|\/)test\//, /\.test\.(js|d\.ts)$/, /bench/, /^examples\//, /\.map$/, /tmp/, /\.node$/]) assert.deepEqual(files.filter((f) => bad.test(f)), [], `no ${bad}`);
  // every export's code and types, the bin, the addon's sources and the install script
  for (const e of Object.values(pkg.exports)) {
    if (typeof e === 'string') continue;
    assert.ok(files.includes(e.default.slice(2)), e.default);
    assert.ok(files.includes(e.types.slice(2)), e.types);
  }
  assert.ok(files.includes(pkg.bin.prime!.slice(2)));
  for (const f of ['native/binding.gyp', 'native/install.cjs', 'native/libtorch.cjs', 'native/src/tensor.cc', 'native/src/common.h']) assert.ok(files.includes(f), f);
  console.log(`npm pack: ${files.length} files`);
});

test('the packed tarball installs into an empty project, imports by every subpath, type-checks, and runs `prime`', () => {
  assert.ok(tarball, 'npm pack ran');
  const proj = path.join(tmp, 'proj');
  fs.mkdirSync(proj);
  // npm >= 11 runs a dependency's install script only when allowScripts approves it
  fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({
    name: 'prime-ts-install-check', private: true, type: 'module',
    dependencies: { 'prime-ts': `file:${tarball}` }, allowScripts: { [`file:${tarball}`]: true },
  }));
  // no libtorch on purpose: the install script must say how to point the build at one, and succeed
  const inst = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts'], proj, { LIBTORCH: path.join(tmp, 'no-libtorch') });
  assert.equal(inst.code, 0, inst.err);
  const said = inst.out + inst.err;
  assert.match(said, /prime-ts: libtorch not found, so the native addon was not built/);
  assert.match(said, /LIBTORCH=\/path\/to\/libtorch npm rebuild prime-ts/);
  const installed = path.join(proj, 'node_modules', 'prime-ts');
  assert.ok(!fs.existsSync(path.join(installed, 'test')) && !fs.existsSync(path.join(installed, 'dist', 'test')));

  fs.writeFileSync(path.join(proj, 'check.mjs'), `
    const prime = await import('prime-ts');
    const torch = await import('prime-ts/torch');
    const lm = await import('prime-ts/lm');
    const verify = await import('prime-ts/verify');
    const out = { prime: typeof prime.loadConfig, lm: typeof lm.loadPretrained, native: torch.nativeAvailable };
    try { torch.zeros([2]); out.zeros = 'no error'; } catch (e) { out.zeros = e.name + ': ' + e.message; }
    out.verify = (await verify.verify({ ability: 'math', ground_truth: '12' }, 'so \\\\boxed{12}')).score;
    out.config = prime.loadConfig(null, ['model.path=m', 'data.train_files=t.jsonl']).rollout.n;
    console.log(JSON.stringify(out));
  `);
  // the installed package must find no addon of its own: PRIME_NATIVE (set by make test-libtorch2) would point it at this checkout's
  const chk = run(process.execPath, ['check.mjs'], proj, { PRIME_NATIVE: '' });
  assert.equal(chk.code, 0, chk.err);
  const o = JSON.parse(chk.out.trim().split('\n').pop()!) as Record<string, unknown>;
  assert.equal(o.prime, 'function');
  assert.equal(o.lm, 'function');
  assert.equal(o.native, false);
  assert.match(String(o.zeros), /^NativeAddonError: prime-ts: the native addon \(libtorch\) is not available: not built.*LIBTORCH=/);
  assert.equal(o.verify, 1);
  assert.equal(o.config, 4);

  // types resolve for every subpath (TS7016 "could not find a declaration file" otherwise)
  fs.writeFileSync(path.join(proj, 'check.ts'), `
    import { loadConfig, type PrimeConfig } from 'prime-ts';
    import { Tensor, zeros } from 'prime-ts/torch';
    import { loadPretrained } from 'prime-ts/lm';
    import { verify } from 'prime-ts/verify';
    const c: PrimeConfig = loadConfig(null);
    const n: number = c.rollout.n;
    const f: (s: number[]) => Tensor = (s) => zeros(s);
    // @ts-expect-error: a number is not a config file name (fails if the types were 'any')
    loadConfig(3);
    void [n, f, loadPretrained, verify];
  `);
  const tsc = run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--target', 'es2022', '--skipLibCheck', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules/@types'), 'check.ts'], proj);
  assert.equal(tsc.code, 0, `tsc: ${tsc.out}${tsc.err}`);

  const ver = run(path.join(proj, 'node_modules/.bin/prime'), ['--version'], proj);
  assert.equal(ver.code, 0, ver.err);
  assert.equal(ver.out.trim(), pkg.version);
});

test('the install script without libtorch: a message on how to point it at one, exit 0', () => {
  const r = run(process.execPath, [path.join(ROOT, 'native/install.cjs')], ROOT, { LIBTORCH: '/nonexistent-libtorch', PRIME_TS_FORCE_BUILD: '1' });
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /libtorch not found.*\n[^]*LIBTORCH=\/nonexistent-libtorch: needs \/nonexistent-libtorch\/include\/ATen\/ATen\.h/);
  assert.match(r.err, /npm install-scripts approve prime-ts/);
  const skip = run(process.execPath, [path.join(ROOT, 'native/install.cjs')], ROOT, { PRIME_TS_SKIP_BUILD: '1' });
  assert.equal(skip.code, 0);
  assert.match(skip.err, /PRIME_TS_SKIP_BUILD=1: native addon not built/);
});

// Locates libtorch for binding.gyp and prints one gyp value, chosen by argv[2]:
//   include | libdir | libs | defines | std | openmp
// Order: $LIBTORCH (an official libtorch, CPU or CUDA, >= 1.13; or `venv`: the libtorch inside
// the PyPI torch wheel of the project's .venv), then Debian's multiarch location
// (`apt-get install libtorch-dev`). The C++ ABI flag is read from the libtorch's own
// TorchConfig.cmake, because linking with the wrong _GLIBCXX_USE_CXX11_ABI fails at load.
//
// CUDA: PRIME_CUDA=1 links torch_cuda/c10_cuda (and compiles NCCL when nccl.h is found),
// PRIME_CUDA=0 links only torch_cpu/c10. Unset: CUDA when the libtorch has libtorch_cuda.so,
// except for a pip wheel, whose CPU build links only libtorch_cpu/libc10 (PyPI's Linux wheel is
// a CUDA build; its libtorch.so would pull libtorch_cuda.so and gigabytes of CUDA libraries).
'use strict';
const fs = require('fs');
const path = require('path');

const REPO = path.resolve(__dirname, '..');

// The torch package directory of the project's virtual environment (.venv/lib/python3.X/site-packages/torch).
function venvTorch() {
  const lib = path.join(REPO, '.venv/lib');
  const tried = `${lib}/python3.*/site-packages/torch`;
  if (!fs.existsSync(lib)) return { tried };
  for (const py of fs.readdirSync(lib).filter((d) => d.startsWith('python3')).sort().reverse()) {
    const t = path.join(lib, py, 'site-packages/torch');
    if (fs.existsSync(path.join(t, 'lib/libtorch_cpu.so'))) return { root: t, tried };
  }
  return { tried };
}

// $CUDA_HOME/include, then /usr/local/cuda/include, where they hold cuda_runtime_api.h.
function cudaToolkitInclude() {
  return [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda']
    .filter(Boolean).map((d) => path.join(d, 'include'))
    .filter((d) => fs.existsSync(path.join(d, 'cuda_runtime_api.h')));
}

function candidates() {
  const out = [];
  if (process.env.LIBTORCH) {
    let root = process.env.LIBTORCH;
    if (root === 'venv') {
      const v = venvTorch();
      if (!v.root) {
        process.stderr.write(`prime-ts: LIBTORCH=venv but no torch wheel in ${v.tried} (run \`make venv\`)\n`);
        process.exit(1);
      }
      root = v.root;
    }
    root = path.resolve(root);
    // a pip wheel: torch/lib, torch/include; the CUDA runtime libraries live in ../nvidia/*/
    const wheel = fs.existsSync(path.join(root, '__init__.py'));
    const nvidia = path.join(root, '../nvidia');
    const nv = wheel && fs.existsSync(nvidia) ? fs.readdirSync(nvidia).map((d) => path.join(nvidia, d)) : [];
    out.push({
      where: `LIBTORCH=${root}`,
      wheel,
      include: [path.join(root, 'include'), path.join(root, 'include/torch/csrc/api/include')],
      libdir: path.join(root, 'lib'),
      cmake: path.join(root, 'share/cmake/Torch/TorchConfig.cmake'),
      // the CUDA toolkit's own headers as a last resort (a wheel whose nvidia/ packages carry none)
      nvInclude: [...nv.map((d) => path.join(d, 'include')), ...cudaToolkitInclude()].filter((d) => fs.existsSync(d)),
      nvLib: nv.map((d) => path.join(d, 'lib')).filter((d) => fs.existsSync(d)),
    });
    return out; // an explicit choice is never silently replaced by another libtorch
  }
  for (const arch of ['x86_64-linux-gnu', 'aarch64-linux-gnu']) {
    out.push({
      where: `Debian libtorch-dev (/usr/lib/${arch})`,
      wheel: false,
      include: ['/usr/include', '/usr/include/torch/csrc/api/include'],
      libdir: `/usr/lib/${arch}`,
      cmake: `/usr/lib/${arch}/cmake/Torch/TorchConfig.cmake`,
      nvInclude: [],
      nvLib: [],
    });
  }
  return out;
}

function find() {
  const tried = [];
  for (const c of candidates()) {
    const header = path.join(c.include[0], 'ATen/ATen.h');
    const lib = path.join(c.libdir, 'libtorch_cpu.so');
    if (fs.existsSync(header) && fs.existsSync(lib)) return c;
    tried.push(`${c.where}: needs ${header} and ${lib}`);
  }
  process.stderr.write(
    'prime-ts: libtorch not found. Tried:\n  ' + tried.join('\n  ') +
    '\nInstall Debian\'s package (apt-get install libtorch-dev) or set LIBTORCH=/path/to/libtorch ' +
    '(an unpacked official libtorch >= 1.13, or `venv` for the torch wheel in .venv).\n');
  process.exit(1);
}

const lt = find();
const hasCudaLib = fs.existsSync(path.join(lt.libdir, 'libtorch_cuda.so'));
const want = process.env.PRIME_CUDA;
if (want === '1' && !hasCudaLib) {
  process.stderr.write(`prime-ts: PRIME_CUDA=1 but ${lt.where} has no libtorch_cuda.so (a CPU-only libtorch)\n`);
  process.exit(1);
}
const cuda = want === '1' || (want !== '0' && hasCudaLib && !lt.wheel);
if (cuda && lt.wheel && !lt.nvInclude.some((d) => fs.existsSync(path.join(d, 'cuda_runtime_api.h')))) {
  process.stderr.write(`prime-ts: PRIME_CUDA=1 needs the CUDA headers (cuda_runtime_api.h) under ${path.join(lt.libdir, '../../nvidia/*/include')}\n`);
  process.exit(1);
}

const what = process.argv[2];
if (what === 'include') console.log([...lt.include, ...(cuda ? lt.nvInclude : [])].join(' '));
else if (what === 'libdir') console.log(lt.libdir);
else if (what === 'libs') {
  // libtorch.so of a wheel is only a shim that links libtorch_cuda; torch_cpu/c10 hold the CPU code
  const libs = lt.wheel ? ['-ltorch_cpu', '-lc10'] : ['-ltorch', '-ltorch_cpu', '-lc10'];
  if (cuda) {
    libs.push('-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed');
    for (const d of lt.nvLib) libs.push(`-Wl,-rpath,${d}`);
  }
  console.log(libs.join(' '));
} else if (what === 'defines') {
  let abi = '1';
  if (fs.existsSync(lt.cmake)) {
    const m = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(fs.readFileSync(lt.cmake, 'utf8'));
    if (m) abi = m[1];
  }
  const defs = [`_GLIBCXX_USE_CXX11_ABI=${abi}`];
  if (cuda) defs.push('PRIME_HAS_CUDA=1');
  console.log(defs.join(' '));
} else if (what === 'openmp') {
  // ATen's parallel_for is a header template whose `#pragma omp parallel` our own code compiles:
  // without -fopenmp it runs serially. Only where libtorch uses the system's libgomp (Debian's):
  // a wheel or an official zip bundles its own renamed copy, and a second OpenMP runtime would
  // run our parallel regions on a second thread pool (there ATen's own kernels keep their threads).
  const bundled = fs.readdirSync(lt.libdir).some((f) => /^libgomp-.*\.so/.test(f));
  console.log(bundled ? '' : '-fopenmp');
} else if (what === 'std') {
  // libtorch 2.x headers from about 2.10 on require C++20 (ATen.h says so); older ones C++17
  const aten = fs.readFileSync(path.join(lt.include[0], 'ATen/ATen.h'), 'utf8');
  console.log(/C\+\+20 or later/.test(aten) ? 'c++20' : 'c++17');
} else {
  console.log(`libtorch: ${lt.where}${cuda ? ' (CUDA)' : ' (CPU)'}`);
}

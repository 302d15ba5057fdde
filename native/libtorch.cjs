// Locates libtorch for binding.gyp and prints one gyp value, chosen by argv[2]:
//   include | libdir | libs | defines | cflags
// Order: $LIBTORCH (an official libtorch, CPU or CUDA, >= 1.13), then Debian's multiarch
// location (`apt-get install libtorch-dev`). The C++ ABI flag is read from the libtorch's
// own TorchConfig.cmake, because linking with the wrong _GLIBCXX_USE_CXX11_ABI fails at load.
'use strict';
const fs = require('fs');
const path = require('path');

function candidates() {
  const out = [];
  if (process.env.LIBTORCH) {
    const root = path.resolve(process.env.LIBTORCH);
    out.push({
      where: `LIBTORCH=${root}`,
      include: [path.join(root, 'include'), path.join(root, 'include/torch/csrc/api/include')],
      libdir: path.join(root, 'lib'),
      cmake: path.join(root, 'share/cmake/Torch/TorchConfig.cmake'),
    });
    return out; // an explicit choice is never silently replaced by another libtorch
  }
  for (const arch of ['x86_64-linux-gnu', 'aarch64-linux-gnu']) {
    out.push({
      where: `Debian libtorch-dev (/usr/lib/${arch})`,
      include: ['/usr/include', '/usr/include/torch/csrc/api/include'],
      libdir: `/usr/lib/${arch}`,
      cmake: `/usr/lib/${arch}/cmake/Torch/TorchConfig.cmake`,
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
    '(an unpacked official libtorch >= 1.13).\n');
  process.exit(1);
}

const lt = find();
const what = process.argv[2];
if (what === 'include') console.log(lt.include.join(' '));
else if (what === 'libdir') console.log(lt.libdir);
else if (what === 'libs') {
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10'];
  if (fs.existsSync(path.join(lt.libdir, 'libtorch_cuda.so'))) libs.push('-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed');
  console.log(libs.join(' '));
} else if (what === 'defines') {
  let abi = '1';
  if (fs.existsSync(lt.cmake)) {
    const m = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(fs.readFileSync(lt.cmake, 'utf8'));
    if (m) abi = m[1];
  }
  const defs = [`_GLIBCXX_USE_CXX11_ABI=${abi}`];
  if (fs.existsSync(path.join(lt.libdir, 'libtorch_cuda.so'))) defs.push('PRIME_HAS_CUDA=1');
  console.log(defs.join(' '));
} else {
  console.log(`libtorch: ${lt.where}`);
}

#!/usr/bin/env bash
# prime-ts on an NVIDIA GPU machine that has a Python `torch` (CUDA build) but no network and no
# Node. Two halves:
#
#   bash bench/device-check.sh --pack [OUT.tar]   (here, after `make build`): packs what the GPU
#        machine needs into one tar: the repository with dist/ and node_modules/, this machine's
#        node binary xz-compressed (node.xz) and Node's C headers (node-headers/, for node-gyp).
#   bash bench/device-check.sh                    (there, in the unpacked tree): unpacks node,
#        builds the addon against that torch's libtorch with CUDA (native/build-cuda; PRIME_CUDA=1),
#        runs the test suite with the device set to cuda (PRIME_TEST_DEVICE=cuda: the GPU tests
#        must run, not skip), runs a short PRIME training on the GPU and prints tokens/s for
#        sampling and training, then the same training on the CPU for comparison.
#
# Needs there: python3 with torch (CUDA), g++ (C++17/C++20), make. Environment: PYTHON (default
# python3), DEVICE (default cuda), STEPS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [ "${1:-}" = "--pack" ]; then
  out=${2:-prime-ts-device.tar}
  [ -f dist/.built ] && [ -d node_modules ] || { echo "run make build first" >&2; exit 1; }
  stage=$(mktemp -d)
  xz -T0 -6 -c "$(command -v node)" > "$stage/node.xz"
  nodedir=$(node -p "require('path').resolve(process.execPath, '../..')")
  mkdir -p "$stage/node-headers/include" && cp -r "$nodedir/include/node" "$stage/node-headers/include/"
  tar cf "$out" --exclude=native/build --exclude='native/build-*' --exclude=.venv --exclude=runs --exclude=.git \
    -C "$ROOT" . -C "$stage" node.xz node-headers
  rm -rf "$stage"
  echo "packed $(du -h "$out" | cut -f1) into $out; on the GPU machine: mkdir p && tar xf $(basename "$out") -C p && bash p/bench/device-check.sh"
  exit 0
fi

PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-3}
nvidia-smi -L || { echo "device-check: nvidia-smi found no GPU" >&2; exit 1; }

# 1. node from the carried binary
mkdir -p .device/bin
if [ ! -x .device/bin/node ]; then
  [ -f node.xz ] || { echo "device-check: node.xz missing (make it with --pack on a machine with Node)" >&2; exit 1; }
  xz -dc node.xz > .device/bin/node && chmod +x .device/bin/node
fi
export PATH="$ROOT/.device/bin:$PATH"
echo "node $(node --version)"

# 2. the addon against the installed torch's libtorch, with CUDA
TORCH_DIR=$("$PYTHON" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
"$PYTHON" -c 'import torch; print("python torch", torch.__version__, "cuda", torch.version.cuda, "devices", torch.cuda.device_count())'
NODEDIR=$ROOT/node-headers
[ -f "$NODEDIR/include/node/node_api.h" ] || NODEDIR=$(node -p "require('path').resolve(process.execPath, '../..')")
BUILD=native/build-cuda
mkdir -p $BUILD
sed -e 's#"src/#"../src/#g' -e 's#node libtorch.cjs#node ../libtorch.cjs#g' native/binding.gyp > $BUILD/binding.gyp
t0=$(date +%s)
(cd $BUILD && LIBTORCH=$TORCH_DIR PRIME_CUDA=1 ../../node_modules/.bin/node-gyp rebuild -j "$(nproc)" --nodedir="$NODEDIR")
echo "addon built in $(( $(date +%s) - t0 )) s"
export PRIME_NATIVE=$ROOT/$BUILD/build/Release/prime_native.node
node -e "import('./dist/src/torch/index.js').then((t) => { const v = t.version(); console.log('addon:', v, 'cuda available:', t.cudaAvailable()); if (!v.cuda || !t.cudaAvailable()) process.exit(1); })"

# 3. the test suite, device set to cuda (Python references through PYTHON when it has transformers)
export PRIME_TEST_DEVICE=$DEVICE
export PRIME_PYTHON=$(command -v "$PYTHON")
node --test --test-concurrency=1 $(find dist/test -name '*.test.js' | sort) 2>&1 | tee .device/test.log | grep -E '^# (tests|pass|fail|skipped)|^not ok' || true
grep -q '^# fail 0' .device/test.log && echo "device-check: test suite passed" || echo "device-check: test suite had failures (see .device/test.log)"

# 4. a short PRIME training on the GPU, then the same on the CPU: tokens/s
PRIME_DEVICE=$DEVICE node dist/bench/device-train.js "$STEPS" 256 4
PRIME_DEVICE=cpu node dist/bench/device-train.js "$STEPS" 256 4

# 5. bf16 mixed precision and shared prompts in the trainer on the device (OK / FAIL per check)
PRIME_DEVICE=$DEVICE node dist/bench/device-precision.js || echo "device-check: the precision check failed (see above)"
